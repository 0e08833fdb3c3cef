package thirdparty

import _ "embed"

// AssetsJSON is the content of assets.json, the asset manifest, embedded in
// the binary so that `tagimp-gpu fetch` works from any folder. Parse it with
// fetch.ParseManifest.
//
//go:embed assets.json
var AssetsJSON []byte
