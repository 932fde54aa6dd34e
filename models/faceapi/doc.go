// Package faceapi runs the face analysis networks of the npm package
// @vladmandic/face-api 1.7.15 (MIT licence; a fork of face-api.js) in plain
// Go, from the package's TensorFlow.js weight files:
//
//   - Detector, the tiny face detector (Tiny-YOLOv2-like): face boxes and
//     scores, with face-api's decoding and non-maximum suppression;
//   - LandmarkNet, the 68-point landmark network;
//   - Recognizer, the 128-d face recognition network (dlib's ResNet).
//
// Only the forward passes are implemented, and they follow face-api's
// TypeScript source op by op (TensorFlow's NHWC layout, SAME/VALID padding
// rules, face-api's input padding, bilinear resizing and normalisation), so
// that the outputs match the JavaScript library's to float32 rounding.
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
// Images are 8-bit RGB (Image). Models.Analyze is face-api's
// detectAllFaces().withFaceLandmarks().withFaceDescriptors(). Align
// warps a face to the 512x512 FFHQ template that GFPGAN and facexlib use,
// from five points derived from the 68 landmarks.
package faceapi
