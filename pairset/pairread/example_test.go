package pairread_test

import (
	"fmt"

	"github.com/degradiff/degradiff/pairset/pairread"
)

func ExampleParseGlobs() {
	// The RealSR test split, by HR name.
	test, err := pairread.ParseGlobs("Canon_04[1-9]*,Canon_050*, Nikon_04[1-9]*,Nikon_050*")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(test), test[0])
	opt := pairread.Options{Scale: 4, Include: test}
	_ = opt // pairread.OpenWith("RealSR_V3", opt)
	// Output: 4 Canon_04[1-9]*
}
