package unet

import "testing"

func TestFLOPs(t *testing.T) {
	// A hand count for a one-level net: conv_in 3->32 and conv_out 32->3 at
	// 8x8, one resnet 32->32 (two 3x3 convs) in the down block, the mid
	// block's two resnets, two up resnets 64->32 (with 1x1 shortcuts), and
	// the time embedding (32->128->128) and projections.
	c := DefaultConfig()
	c.BlockOutChannels = []int{32}
	c.DownBlockTypes = []string{DownBlock2D}
	c.UpBlockTypes = []string{UpBlock2D}
	c.LayersPerBlock = 1
	c.AddAttention = false
	c.NormNumGroups = 8
	px := 64.0
	conv := func(in, out, k int) float64 { return 2 * float64(in*out*k*k) * px }
	res := func(in, out int) float64 {
		f := conv(in, out, 3) + conv(out, out, 3) + 2*128*float64(out)
		if in != out {
			f += conv(in, out, 1)
		}
		return f
	}
	want := conv(3, 32, 3) + 2*(32*128+128*128) + res(32, 32) + 2*res(32, 32) + 2*res(64, 32) + conv(32, 3, 3)
	got, err := c.FLOPs(8, 8)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("FLOPs = %g, want %g", got, want)
	}
	cpu, _ := CPUConfig().FLOPs(128, 128)
	ref, _ := ReferenceConfig().FLOPs(128, 128)
	t.Logf("cpu preset at 128x128: %.2f GFLOP; reference: %.1f GFLOP", cpu/1e9, ref/1e9)
	if !(cpu > 1e9 && ref > 5*cpu) {
		t.Fatalf("implausible: cpu %g, reference %g", cpu, ref)
	}
}
