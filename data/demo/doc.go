// Package demo generates a small synthetic image-tagging data set in the
// COCO caption format, so the whole tagimp pipeline can be run and checked
// without downloading COCO.
//
// Each image is a scene (a field, water, a road or a table as background)
// holding a few objects named by ordinary English nouns (dog, ball, house,
// boat, ...), each drawn as its own shape, colour and texture at a random
// size and position. Five simulated annotators then describe every image in
// plain sentences ("A big dog and a ball on the field."). An annotator
// mentions an object with a probability that rises with its area and with how
// close it is to the centre, and mentions the background with a probability
// that rises with how much of it is visible, so the importance of a tag (the
// share of captions that mention it) is known in advance and can be learned
// from the pixels.
//
// Generate builds the scenes and captions from a seed (deterministic), Render
// draws one scene, and Write puts a whole set on disk: DIR/images/*.png,
// DIR/captions.json (COCO captions: images, annotations) and
// DIR/instances.json (COCO instances: the objects' boxes, plus each object's
// mention probability). The vocabulary, labels, features and models are then
// built from DIR by the ordinary packages, exactly as for COCO.
package demo
