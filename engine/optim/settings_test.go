package optim

import (
	"math"
	"strings"
	"testing"
)

func TestSettingsValidateNamesKeys(t *testing.T) {
	ok := Settings{LR: 1e-4, LRSchedule: "cosine", AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEps: 1e-8, UseEMA: true, EMAMaxDecay: 0.9999, EMAInvGamma: 1, EMAPower: 0.75}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for key, mod := range map[string]func(*Settings){
		"learning_rate": func(s *Settings) { s.LR = 0 },
		"lr_schedule":   func(s *Settings) { s.LRSchedule = "step" },
		"adam_beta2":    func(s *Settings) { s.AdamBeta2 = 1 },
		"max_grad_norm": func(s *Settings) { s.MaxGradNorm = -1 },
		"ema_power":     func(s *Settings) { s.EMAPower = 0 },
	} {
		s := ok
		mod(&s)
		if err := s.Validate(); err == nil || !strings.HasPrefix(err.Error(), key+":") {
			t.Errorf("%s: error %v", key, err)
		}
	}
	// Infinities, which only code (not YAML) can give.
	for key, mod := range map[string]func(*Settings){
		"learning_rate": func(s *Settings) { s.LR = math.Inf(1) },
		"weight_decay":  func(s *Settings) { s.WeightDecay = math.Inf(1) },
		"max_grad_norm": func(s *Settings) { s.MaxGradNorm = math.Inf(1) },
		"ema_power":     func(s *Settings) { s.EMAPower = math.Inf(1) },
	} {
		s := ok
		mod(&s)
		if err := s.Validate(); err == nil || !strings.HasPrefix(err.Error(), key+":") {
			t.Errorf("%s = +Inf: error %v", key, err)
		}
	}
	if e, err := (Settings{UseEMA: false}).NewEMA(nil); e != nil || err != nil {
		t.Fatalf("EMA off: %v %v", e, err)
	}
}
