package imageio

import (
	"bytes"
	"image"
	"io"
	"testing"
)

// benchSize is a typical training crop and LQ photo size.
const benchW, benchH = 512, 512

func benchDecode(b *testing.B, data []byte) {
	b.SetBytes(benchW * benchH * 3)
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(data), "bench", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePNG8(b *testing.B) { benchDecode(b, encodePNG(b, smoothImage(benchW, benchH))) }

func BenchmarkDecodePNG16(b *testing.B) {
	src := smoothImage(benchW, benchH)
	m := image.NewRGBA64(src.Rect)
	for i := range src.Pix {
		m.Pix[2*i], m.Pix[2*i+1] = src.Pix[i], src.Pix[i]^0x5a
	}
	benchDecode(b, encodePNG(b, m))
}

func BenchmarkDecodeJPEG(b *testing.B) {
	benchDecode(b, encodeJPEG(b, smoothImage(benchW, benchH), 90))
}

// The conversions alone, from decoded images.
func benchFromImage(b *testing.B, img image.Image) {
	b.SetBytes(benchW * benchH * 3)
	for b.Loop() {
		FromImage(img)
	}
}

func BenchmarkFromRGBA(b *testing.B) { benchFromImage(b, smoothImage(benchW, benchH)) }

func BenchmarkFromNRGBA64(b *testing.B) {
	benchFromImage(b, image.NewNRGBA64(image.Rect(0, 0, benchW, benchH)))
}

func BenchmarkFromGray(b *testing.B) {
	benchFromImage(b, image.NewGray(image.Rect(0, 0, benchW, benchH)))
}

func BenchmarkFromYCbCr420(b *testing.B) {
	m := image.NewYCbCr(image.Rect(0, 0, benchW, benchH), image.YCbCrSubsampleRatio420)
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = uint8(i), uint8(i*7)
	}
	benchFromImage(b, m)
}

func BenchmarkFromYCbCr420WebP(b *testing.B) {
	m := image.NewYCbCr(image.Rect(0, 0, benchW, benchH), image.YCbCrSubsampleRatio420)
	b.SetBytes(benchW * benchH * 3)
	for b.Loop() {
		convert("webp", m)
	}
}

func BenchmarkToImage8(b *testing.B) {
	m := FromImage(smoothImage(benchW, benchH))
	b.SetBytes(benchW * benchH * 3)
	for b.Loop() {
		ToImage(m, 8)
	}
}

func BenchmarkEncodePNG(b *testing.B) {
	m := FromImage(smoothImage(benchW, benchH))
	b.SetBytes(benchW * benchH * 3)
	for b.Loop() {
		if err := Encode(io.Discard, m, "png", SaveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
