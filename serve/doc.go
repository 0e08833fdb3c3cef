// Package serve answers tagging requests over HTTP with a run's model
// (package tagimp/tagger): POST /v1/tag takes an image (the raw request body
// or a multipart form's file) and answers with the JSON of one line of the tag
// command; GET /v1/model describes the vocabulary, model and feature source;
// GET /healthz says the server is up.
//
// Every request is bounded: the body size, the image's pixels (checked from its
// header before any pixel memory is allocated), the number of requests decoded
// and run at once (others wait in a bounded queue, then are refused), and the
// time per request. A refusal is a JSON error with the matching status (400,
// 405, 413, 415, 503). Images that arrive together are run through VGG16 and
// the model as one batch. Shutdown waits for the requests in flight.
package serve
