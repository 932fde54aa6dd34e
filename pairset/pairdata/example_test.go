package pairdata_test

import (
	"fmt"

	"github.com/degradiff/degradiff/pairset/pairdata"
)

func ExampleParseGlobs() {
	// The RealSR test split, by HR name.
	test, err := pairdata.ParseGlobs("Canon_04[1-9]*,Canon_050*, Nikon_04[1-9]*,Nikon_050*")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(test), test[0])
	opt := pairdata.Options{Scale: 4, Include: test}
	_ = opt // pairdata.OpenWith("RealSR_V3", opt)
	// Output: 4 Canon_04[1-9]*
}
