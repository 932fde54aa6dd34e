// Package imageio loads and saves the images degradiff works on, and finds
// them in folders.
//
// # Loading
//
// Load and Decode read PNG (1 to 16 bits, gray, gray+alpha, palette, RGB,
// RGBA), JPEG (gray, YCbCr, RGB, Adobe CMYK and YCCK), WebP (lossy and
// lossless), BMP and TIFF. The format is sniffed from the content, never from
// the file name, so files without an extension or with a wrong one load too.
//
// Every image becomes a *raster.Image with three planes R, G, B of float32 in
// [0, 1]: 8-bit samples map to v/255 and 16-bit samples to v/65535 (both
// computed in float32, as numpy does for img.astype(np.float32)/255), so
// 16-bit files keep their precision. Gray images become three equal planes.
//
// Alpha is dropped and the stored colour samples are kept as they are, not
// composited over a background and not multiplied by alpha. This is what
// BasicSR gets from cv2.imread(path, cv2.IMREAD_COLOR), and every function in
// this package follows it: a pixel stored as (R, G, B, A) = (200, 10, 10, 0)
// loads as (200, 10, 10)/255. Formats that store premultiplied samples (TIFF
// with associated alpha) keep those premultiplied samples.
//
// Colour conversions follow the libraries behind cv2, so that loads match the
// reference pipeline closely:
//   - JPEG YCbCr uses libjpeg-turbo's integer YCbCr to RGB tables and its
//     default "fancy" triangle-filter chroma upsampling (Go's image/jpeg alone
//     replicates chroma samples). The inverse DCT is Go's, not libjpeg's
//     ISLOW, so about 2% of samples differ from cv2 by one to three levels.
//   - Adobe CMYK and YCCK JPEG use OpenCV's conversion R = (255-K) -
//     ((C*(255-K))>>8) on 8-bit ink values (Go's decoder already undoes the
//     Adobe inversion). For YCCK, image/jpeg converts the YCbCr part itself
//     with replicated chroma, so colour edges may differ from cv2 by tens
//     of levels; plain CMYK matches within a level.
//   - Lossy WebP uses libwebp's limited-range BT.601 conversion and its fancy
//     upsampler, bit-exact with libwebp; golang.org/x/image/webp returns these
//     samples as a full-range image.YCbCr, which would lift blacks and dim
//     whites (golang/go#40173).
//   - The EXIF orientation of JPEG files is applied, as cv2.imread does.
//
// One difference from BasicSR is deliberate: cv2.IMREAD_COLOR reduces 16-bit
// files to 8 bits, while this package keeps all 16 bits.
//
// # Size limits
//
// The header is read first (image.DecodeConfig) and images wider times higher
// than Options.MaxPixels (default 100 megapixels) are refused before any pixel
// memory is allocated, so a small crafted file cannot exhaust memory. Images
// with a zero width or height are refused too.
//
// # Errors
//
// Every error returned for a file is a *FileError naming the file, and wraps
// one of the sentinel errors (ErrEmpty, ErrUnknownFormat, ErrTruncated,
// ErrTooLarge, ErrZeroSize, ErrCorrupt, ErrUnsupported) or the operating
// system's error (for example fs.ErrPermission), for errors.Is.
//
// # Saving
//
// Save writes PNG (8 or 16 bits) or JPEG, chosen by the file extension, and
// quantises like BasicSR's tensor2img: clamp to [0, 1], multiply by 255 (or
// 65535) and round half to even. The file appears atomically: it is written
// to a hidden temporary file in the same folder, synced, and renamed.
//
// # Folders
//
// Find lists the images under a folder in a deterministic order, and Names
// gives each a stable, unique item name (see Names for the rule) used as the
// random-stream key and the output file name.
package imageio
