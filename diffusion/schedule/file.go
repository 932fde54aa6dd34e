package schedule

import "encoding/json"

// DiffusersVersion is the diffusers version written into the files
// degradiff writes (models/unet writes the same).
const DiffusersVersion = "0.21.1"

// DDPMFile returns the scheduler_config.json of a DDPMScheduler with the
// given noise schedule and prediction type, as degradiff writes it for the
// models it trains (and diffusers' DDPMPipeline reads it). The other keys
// are diffusers' DDPMScheduler defaults.
func DDPMFile(numTrainTimesteps int, beta BetaSchedule, betaStart, betaEnd float64, pred Prediction) []byte {
	m := map[string]any{
		"_class_name":                DDPMClass,
		"_diffusers_version":         DiffusersVersion,
		"beta_end":                   betaEnd,
		"beta_schedule":              beta,
		"beta_start":                 betaStart,
		"clip_sample":                true,
		"clip_sample_range":          1.0,
		"dynamic_thresholding_ratio": 0.995,
		"num_train_timesteps":        numTrainTimesteps,
		"prediction_type":            pred,
		"sample_max_value":           1.0,
		"steps_offset":               0,
		"thresholding":               false,
		"timestep_spacing":           Leading,
		"trained_betas":              nil,
		"variance_type":              "fixed_small",
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// DefaultDDPMFile is the scheduler of a model folder that has none (a bare
// UNet folder): DDPMFile with the defaults of Defaults(DDPMClass), which
// are also the reference implementation's training schedule.
func DefaultDDPMFile() []byte {
	c, _ := Defaults(DDPMClass)
	return DDPMFile(c.NumTrainTimesteps, c.BetaSchedule, c.BetaStart, c.BetaEnd, c.PredictionType)
}
