package train

import "testing"

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

func TestParseAugment(t *testing.T) {
	a, err := parseAugment("crop2,reflect,altflip")
	if err != nil || a.crop != 2 || !a.reflect || !a.altflip || a.flip {
		t.Errorf("crop2,reflect,altflip: %+v, %v", a, err)
	}
	if a, err := parseAugment("crop,flip"); err != nil || a.crop != 4 || !a.flip {
		t.Errorf("crop,flip: %+v, %v", a, err)
	}
	for _, bad := range []string{"crop0", "crop17", "cropx", "reflect", "flip,altflip", "rotate"} {
		if _, err := parseAugment(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
