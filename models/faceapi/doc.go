// Package faceapi runs the face analysis networks of the npm package
// @vladmandic/face-api 1.7.15 (MIT licence; a fork of face-api.js) in plain
// Go, from the package's TensorFlow.js weight files, and aligns faces to
// the FFHQ template as GFPGAN's facexlib does.
//
// The networks (forward passes only):
//
//   - Detector, the tiny face detector (Tiny-YOLOv2-like): face boxes and
//     scores, with face-api's decoding and non-maximum suppression;
//   - LandmarkNet, the 68-point landmark network;
//   - Recognizer, the 128-d face recognition network (dlib's ResNet);
//     compare descriptors with Distance (below MatchThreshold: the same
//     person) or Cosine.
//
// They follow face-api's TypeScript source op by op (TensorFlow's NHWC
// layout and SAME/VALID padding rules, face-api's input padding, bilinear
// resizing and normalisation), so that their outputs match the JavaScript
// library's to float32 rounding: the package's tests compare them with
// golden values computed by the library (../shared/fixtures/faceapi).
// Models.Analyze is face-api's
// detectAllFaces().withFaceLandmarks().withFaceDescriptors().
//
// The weights are not embedded and never downloaded: users get them with
//
//	npm pack @vladmandic/face-api@1.7.15
//	tar xzf vladmandic-face-api-1.7.15.tgz   # package/model/
//
// and pass the model folder to Load (or to LoadDetector, LoadLandmarkNet,
// LoadRecognizer). ReadWeights reads any tfjs weights manifest with its
// binary shards, dequantising uint8/uint16 tensors as tf.io.decodeWeights.
//
// Images are 8-bit RGB (Image; FromRaster and ToRaster convert).
//
// Aligned faces (FFHQ-style crops) need no detection: AlignedChip cuts a
// fixed square window, which Recognizer.AlignedDescriptor and
// LandmarkNet.AlignedLandmarks use; Misalignment tells whether an image is
// such a crop. Other images go through Models.AlignFaces: detection (at one
// or several input sizes), landmarks, a second landmark pass on the upright
// face (LandmarkNet.Refine), and Align, which warps each face to a size x
// size crop by facexlib's five-point template (AlignFacexlib) or by the
// recipe that made FFHQ (AlignFFHQ).
//
// The networks are read-only after loading and safe for concurrent use.
package faceapi
