package train

import (
	"fmt"
	"strconv"
	"strings"

	"example.com/xent/internal/tta"
)

// The typed values of Config's choices. Each parses once, where a flag or a checkpoint's
// JSON sets it (Set, UnmarshalText), presets set them as constants, and each writes back
// its flag's text (String, MarshalText), so that checkpoints and metrics lines keep the
// flags' spelling.

// Optimizer is the update rule.
type Optimizer string

const (
	SGD   Optimizer = "sgd"   // SGD with momentum, Nesterov and L2 weight decay (optim.SGD)
	AdamW Optimizer = "adamw" // Adam with decoupled weight decay (optim.AdamW)
	// Muon on the convolution filters (optim.Muon, at MuonLR), SGD as above on the rest
	Muon Optimizer = "muon"
)

func (o Optimizer) String() string { return string(o) }

// Set parses -optimizer's value.
func (o *Optimizer) Set(s string) error {
	switch v := Optimizer(s); v {
	case SGD, AdamW, Muon:
		*o = v
		return nil
	}
	return fmt.Errorf("-optimizer %q: want sgd, adamw or muon", s)
}

// UnmarshalText reads what MarshalText wrote; "" stays unset (Config.check refuses it).
func (o *Optimizer) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*o = ""
		return nil
	}
	return o.Set(string(b))
}

// Schedule is the shape of the learning rate over the run (see optim's schedules).
type Schedule string

const (
	Constant   Schedule = "constant"
	StepDecay  Schedule = "step"       // x0.1 at each third of the run
	Cosine     Schedule = "cosine"     // 5% linear warm-up, then a cosine to 0
	Triangular Schedule = "triangular" // airbench's one-cycle: 0.1 -> 1 over 20% of the run, then -> 0
	Linear     Schedule = "linear"     // airbench94_muon's: from the peak at step 0 linearly to 0 at the end
)

func (s Schedule) String() string { return string(s) }

// Set parses -schedule's value.
func (s *Schedule) Set(v string) error {
	switch x := Schedule(v); x {
	case Constant, StepDecay, Cosine, Triangular, Linear:
		*s = x
		return nil
	}
	return fmt.Errorf("-schedule %q: want constant, step, cosine, triangular or linear", v)
}

// UnmarshalText reads what MarshalText wrote; "" stays unset (Config.check refuses it).
func (s *Schedule) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = ""
		return nil
	}
	return s.Set(string(b))
}

// TTA is the test-time augmentation of evaluations.
type TTA string

const (
	NoTTA   TTA = "none"
	FlipTTA TTA = "flip" // the mean logits of each image and its mirror
	// airbench94's level 2: flip, and each image moved by a pixel down-right and up-left
	// (reflecting at the borders), weighted 1/2, 1/4, 1/4, each view with its mirror
	TranslateTTA TTA = "flip-translate"
)

func (t TTA) String() string { return string(t) }

// level is t's views (tta's levels).
func (t TTA) level() tta.Level {
	switch t {
	case FlipTTA:
		return tta.Flip
	case TranslateTTA:
		return tta.FlipTranslate
	}
	return tta.None
}

// Set parses -tta's value ("" is none).
func (t *TTA) Set(s string) error {
	switch x := TTA(s); x {
	case NoTTA, FlipTTA, TranslateTTA:
		*t = x
		return nil
	case "":
		*t = NoTTA
		return nil
	}
	return fmt.Errorf("-tta %q: want none, flip or flip-translate", s)
}

func (t *TTA) UnmarshalText(b []byte) error { return t.Set(string(b)) }

// Augmentation is what training images go through: a random translation by up to Crop
// pixels (the image padded by Crop, zeros or, with Reflect, its mirror), and a flip, random
// or alternating by epoch (airbench's). Its text is -augment's: a comma list of crop (4
// pixels), cropN, reflect, flip, altflip; or none.
type Augmentation struct {
	Crop    int
	Reflect bool
	Flip    bool
	AltFlip bool
}

func (a Augmentation) String() string {
	var words []string
	switch a.Crop {
	case 0:
	case 4:
		words = append(words, "crop")
	default:
		words = append(words, "crop"+strconv.Itoa(a.Crop))
	}
	for _, w := range []struct {
		on   bool
		name string
	}{{a.Reflect, "reflect"}, {a.Flip, "flip"}, {a.AltFlip, "altflip"}} {
		if w.on {
			words = append(words, w.name)
		}
	}
	if len(words) == 0 {
		return "none"
	}
	return strings.Join(words, ",")
}

// Set parses -augment's value.
func (a *Augmentation) Set(s string) error {
	var x Augmentation
	if s == "" || s == "none" {
		*a = x
		return nil
	}
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if n, ok := strings.CutPrefix(w, "crop"); ok && n != "" {
			pad, err := strconv.Atoi(n)
			if err != nil || pad < 1 || pad > 16 {
				return fmt.Errorf("-augment %q: %q: want cropN with N in 1..16 pixels", s, w)
			}
			x.Crop = pad
			continue
		}
		switch w {
		case "crop":
			x.Crop = 4
		case "reflect":
			x.Reflect = true
		case "flip":
			x.Flip = true
		case "altflip":
			x.AltFlip = true
		default:
			return fmt.Errorf("-augment %q: unknown %q (want a comma list of crop (4 pixels), cropN (N pixels), reflect, flip, altflip, or none)", s, w)
		}
	}
	if err := x.check(); err != nil {
		return fmt.Errorf("-augment %q: %w", s, err)
	}
	*a = x
	return nil
}

// check reports settings that exclude each other (Set refuses them; a Config built in Go
// is checked by Config.check).
func (a Augmentation) check() error {
	switch {
	case a.Flip && a.AltFlip:
		return fmt.Errorf("flip and altflip exclude each other")
	case a.Reflect && a.Crop == 0:
		return fmt.Errorf("reflect is a crop's padding; add crop")
	case a.Crop < 0 || a.Crop > 16:
		return fmt.Errorf("crop %d: want 0..16 pixels", a.Crop)
	}
	return nil
}

func (a Augmentation) MarshalText() ([]byte, error)  { return []byte(a.String()), nil }
func (a *Augmentation) UnmarshalText(b []byte) error { return a.Set(string(b)) }

// ResumeMode says whether a run continues from a checkpoint of its -checkpoint-dir. As a
// flag it is boolean (-resume, -resume=false) that also takes auto.
type ResumeMode string

const (
	ResumeNo   ResumeMode = ""     // start afresh; a folder holding another run's checkpoints is an error
	ResumeYes  ResumeMode = "yes"  // continue from the newest checkpoint; a folder without one is an error
	ResumeAuto ResumeMode = "auto" // continue from the newest checkpoint if there is one, else start afresh
)

func (m ResumeMode) String() string {
	if m == ResumeNo {
		return "false"
	}
	return string(m)
}

// Set parses -resume's value: true/yes, auto, or false/no.
func (m *ResumeMode) Set(s string) error {
	switch s {
	case "", "false", "no":
		*m = ResumeNo
	case "true", "yes":
		*m = ResumeYes
	case "auto":
		*m = ResumeAuto
	default:
		return fmt.Errorf("-resume %q: want -resume (a checkpoint must be there), -resume=auto (if one is there) or -resume=false", s)
	}
	return nil
}

// IsBoolFlag lets -resume stand alone on the command line.
func (m *ResumeMode) IsBoolFlag() bool { return true }

// UnmarshalJSON reads a mode, or the boolean of the checkpoints of earlier versions.
func (m *ResumeMode) UnmarshalJSON(b []byte) error {
	if yes, err := strconv.ParseBool(string(b)); err == nil {
		return m.Set(strconv.FormatBool(yes))
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("resume: %s: want a string or a boolean", b)
	}
	return m.Set(s)
}

// EvalEvery is -eval-every: evaluate after every N-th epoch (and after the last); EvalAtEnd
// after the last only; 0 means 1.
type EvalEvery int

// EvalAtEnd evaluates after the last epoch only.
const EvalAtEnd EvalEvery = -1

func (e EvalEvery) String() string {
	if e == EvalAtEnd {
		return "end"
	}
	return strconv.Itoa(max(int(e), 1))
}

// Set parses -eval-every's value: a number of epochs >= 1, or end.
func (e *EvalEvery) Set(s string) error {
	if s == "end" {
		*e = EvalAtEnd
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("-eval-every %q: want a number of epochs >= 1, or end", s)
	}
	*e = EvalEvery(n)
	return nil
}
