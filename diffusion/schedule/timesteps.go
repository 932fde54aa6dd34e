package schedule

import (
	"fmt"
	"math"
)

// Spacing is how inference timesteps are spread over the training
// timesteps (Lin et al. 2023, "Common diffusion noise schedules and sample
// steps are flawed", Table 2).
type Spacing string

// The timestep spacings of diffusers.
const (
	Leading  Spacing = "leading"  // multiples of a step ratio, counted from 0, plus steps_offset
	Linspace Spacing = "linspace" // evenly spaced from 0 to T-1, rounded
	Trailing Spacing = "trailing" // counted down from T, minus 1
)

// Timesteps returns the n inference timesteps, in decreasing order, that
// DDPMScheduler and DDIMScheduler compute in set_timesteps for numTrain
// training timesteps. It fails if n is not in [1, numTrain].
func Timesteps(sp Spacing, numTrain, n, offset int) ([]int, error) {
	if n < 1 || n > numTrain {
		return nil, fmt.Errorf("schedule: num_inference_steps %d is not in [1, num_train_timesteps=%d]", n, numTrain)
	}
	out := make([]int, n)
	switch sp {
	case Linspace:
		v := linspaceF64(0, float64(numTrain-1), n)
		for i := range out {
			out[i] = int(math.RoundToEven(v[n-1-i]))
		}
	case Leading:
		ratio := numTrain / n
		for i := range out {
			out[i] = (n-1-i)*ratio + offset
		}
	case Trailing:
		v := arangeF64(float64(numTrain), 0, -float64(numTrain)/float64(n))
		out = out[:0]
		for _, x := range v {
			out = append(out, int(math.RoundToEven(x))-1)
		}
	default:
		return nil, fmt.Errorf("schedule: timestep_spacing %q is not one of %q, %q, %q", sp, Leading, Linspace, Trailing)
	}
	return out, nil
}

// MultistepTimesteps returns the inference timesteps, in decreasing order,
// that UniPCMultistepScheduler and DPMSolverMultistepScheduler compute in
// set_timesteps: they space n+1 points and drop the last (0), so that the
// final step lands on timestep 0, then drop repeated values (possible when
// n is close to numTrain). The result can thus have fewer than n entries.
func MultistepTimesteps(sp Spacing, numTrain, n, offset int) ([]int, error) {
	return ClippedMultistepTimesteps(sp, numTrain, numTrain, n, offset)
}

// ClippedMultistepTimesteps is MultistepTimesteps for DPM-Solver with
// lambda_min_clipped, which limits the schedule to timesteps below last
// (numTrain when nothing is clipped).
func ClippedMultistepTimesteps(sp Spacing, numTrain, last, n, offset int) ([]int, error) {
	if n < 1 {
		return nil, fmt.Errorf("schedule: num_inference_steps must be positive, got %d", n)
	}
	if last < 1 || last > numTrain {
		return nil, fmt.Errorf("schedule: last timestep %d is not in [1, num_train_timesteps=%d]", last, numTrain)
	}
	var ts []int
	switch sp {
	case Linspace:
		v := linspaceF64(0, float64(last-1), n+1)
		for i := n; i >= 1; i-- {
			ts = append(ts, int(math.RoundToEven(v[i])))
		}
	case Leading:
		ratio := last / (n + 1)
		for i := n; i >= 1; i-- {
			ts = append(ts, i*ratio+offset)
		}
	case Trailing:
		for _, x := range arangeF64(float64(last), 0, -float64(numTrain)/float64(n)) {
			ts = append(ts, int(math.RoundToEven(x))-1)
		}
	default:
		return nil, fmt.Errorf("schedule: timestep_spacing %q is not one of %q, %q, %q", sp, Leading, Linspace, Trailing)
	}
	// np.unique(return_index) + sort of the indices: keep first occurrences.
	seen := make(map[int]bool, len(ts))
	out := ts[:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// linspaceF64 is numpy.linspace(start, stop, num) with endpoint: i*step +
// start, with the last value set to stop exactly.
func linspaceF64(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	if num == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = float64(float64(i)*step) + start
	}
	out[num-1] = stop
	return out
}

// arangeF64 is numpy.arange(start, stop, step) for floats: its length is
// ceil((stop-start)/step) and element i is start + i*delta, where numpy
// takes delta as (start+step)-start
// (numpy's DOUBLE_fill).
func arangeF64(start, stop, step float64) []float64 {
	n := int(math.Ceil((stop - start) / step))
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	out[0] = start
	if n == 1 {
		return out
	}
	out[1] = start + step
	delta := out[1] - start
	for i := 2; i < n; i++ {
		out[i] = start + float64(float64(i)*delta)
	}
	return out
}
