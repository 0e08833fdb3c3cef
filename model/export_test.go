package model

// LoadTagVecsForTest exposes loadTagVecs to the external tests.
var LoadTagVecsForTest = loadTagVecs
