// Package scripts holds the project's shell scripts (setup.sh behind make
// setup, gpu-check.sh) and the Go tests that run them on copies of the
// system files they edit.
package scripts
