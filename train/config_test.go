package train

import (
	"encoding/json"
	"testing"
)

// Every preset is a complete, valid recipe, and the default is one of them.
func TestPresetsAreValid(t *testing.T) {
	if _, ok := Presets[DefaultPreset]; !ok {
		t.Fatalf("default preset %q missing", DefaultPreset)
	}
	for name, c := range Presets {
		if err := c.check(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
		if c.Epochs < 1 || c.Batch < 1 || c.Model == "" {
			t.Errorf("preset %s incomplete: %+v", name, c)
		}
	}
}

func TestAugmentation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Augmentation
		text string // String(): -augment's canonical spelling
	}{
		{"crop2,reflect,altflip", Augmentation{Crop: 2, Reflect: true, AltFlip: true}, "crop2,reflect,altflip"},
		{"crop,flip", Augmentation{Crop: 4, Flip: true}, "crop,flip"},
		{"crop4, reflect ,flip", Augmentation{Crop: 4, Reflect: true, Flip: true}, "crop,reflect,flip"},
		{"none", Augmentation{}, "none"},
		{"", Augmentation{}, "none"},
	} {
		var a Augmentation
		if err := a.Set(tc.in); err != nil || a != tc.want || a.String() != tc.text {
			t.Errorf("%q: %+v (%q), %v; want %+v (%q)", tc.in, a, a.String(), err, tc.want, tc.text)
		}
	}
	for _, bad := range []string{"crop0", "crop17", "cropx", "reflect", "flip,altflip", "rotate"} {
		var a Augmentation
		if err := a.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The choices write back as the flags' text (JSON of checkpoints and metrics lines) and
// read back to the same values; bad text is refused; -resume reads older checkpoints'
// booleans.
func TestChoicesRoundTrip(t *testing.T) {
	c := Presets["quick"]
	c.Resume = ResumeAuto
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	json.Unmarshal(b, &fields)
	for key, want := range map[string]string{"optimizer": "sgd", "schedule": "triangular", "augment": "crop2,reflect,altflip", "tta": "flip", "resume": "auto"} {
		if fields[key] != want {
			t.Errorf("%s written as %v, want %q", key, fields[key], want)
		}
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back.Augment != c.Augment || back.Optimizer != c.Optimizer ||
		back.Schedule != c.Schedule || back.TTA != c.TTA || back.Resume != c.Resume {
		t.Errorf("read back %+v, %v", back, err)
	}
	for _, bad := range []string{`{"optimizer":"adam"}`, `{"schedule":"exponential"}`, `{"augment":"rotate"}`, `{"tta":"crop"}`, `{"resume":"maybe"}`} {
		var x Config
		if err := json.Unmarshal([]byte(bad), &x); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for in, want := range map[string]ResumeMode{`{"resume":true}`: ResumeYes, `{"resume":false}`: ResumeNo, `{"resume":""}`: ResumeNo} {
		var x Config
		if err := json.Unmarshal([]byte(in), &x); err != nil || x.Resume != want {
			t.Errorf("%s: resume %q, %v; want %q", in, x.Resume, err, want)
		}
	}
}

func TestScheduleNames(t *testing.T) {
	for _, name := range []string{"constant", "step", "cosine", "triangular", "linear"} {
		var s Schedule
		if err := s.Set(name); err != nil || s.String() != name {
			t.Errorf("-schedule %s: %v, %v", name, s, err)
		}
	}
}
