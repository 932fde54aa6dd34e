package sampler

import (
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
)

// FuzzSchedulerConfig feeds arbitrary scheduler_config.json files (from a
// --model folder) to schedule.ParseConfig and every sampler: no panic,
// and a sampler that accepts the config sets its timesteps or says why.
func FuzzSchedulerConfig(f *testing.F) {
	f.Add([]byte(`{"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}`))
	f.Add([]byte(`{"_class_name": "UniPCMultistepScheduler", "solver_order": 2, "timestep_spacing": "trailing", "lambda_min_clipped": -Infinity}`))
	f.Add([]byte(`{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver++", "final_sigmas_type": "zero", "use_karras_sigmas": true}`))
	f.Add([]byte(`{"num_train_timesteps": 0, "trained_betas": [0.5, NaN], "steps_offset": -3}`))
	f.Add([]byte(`{"num_train_timesteps": 2000000000}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := schedule.ParseConfig(b)
		if err != nil {
			return
		}
		for _, name := range Names() {
			s, err := New(name, cfg)
			if err != nil {
				continue
			}
			s.SetTimesteps(20)
		}
	})
}
