package optim

import (
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
	if e, err := (Settings{UseEMA: false}).NewEMA(nil); e != nil || err != nil {
		t.Fatalf("EMA off: %v %v", e, err)
	}
}
