package model_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/model"
)

func TestEngineConfig(t *testing.T) {
	c := model.DefaultConfig(model.Model1)
	for _, tc := range []struct{ batch, rows, want int }{
		{32, 600, 32}, {100000, 600, 600}, {1000000000, 600, 600}, {32, 0, 1}, {600, 600, 600},
	} {
		c.Batch = tc.batch
		if got := model.EngineConfig(c, tc.rows).Batch; got != tc.want {
			t.Errorf("EngineConfig(batch %d, rows %d).Batch = %d, want %d", tc.batch, tc.rows, got, tc.want)
		}
	}
}

func TestCheckBatchMemory(t *testing.T) {
	if _, ok := model.AvailableMemory(); !ok {
		t.Skip("available memory cannot be read here")
	}
	c := model.DefaultConfig(model.Model2)
	c.T = 116
	if err := model.CheckBatchMemory(c); err != nil {
		t.Errorf("the paper's batch of 32: %v", err)
	}
	c.Batch = 1 << 30
	err := model.CheckBatchMemory(c)
	if err == nil || !strings.Contains(err.Error(), "use a smaller --batch") || strings.Contains(err.Error(), "\n") {
		t.Errorf("batch of 2^30 rows at full width: %v, want a one-line refusal", err)
	}
	// 32 rows of 4096+4096+116 floats (+ model 2) are a few MB.
	c.Batch = 32
	if b := c.BatchBytes(); b < 1<<20 || b > 64<<20 {
		t.Errorf("BatchBytes of the paper's batch = %d, want a few MB", b)
	}
}

// TestHugeBatchTrainsAsAllRows: a batch larger than the training split
// trains exactly as a batch of all rows (buffers from min(batch, rows))
// and the run records the batch asked for.
func TestHugeBatchTrainsAsAllRows(t *testing.T) {
	huge, all := t.TempDir(), t.TempDir()
	r := smallRun(t, huge, model.Model2, 2)
	r.Config.Batch = 1000000000
	m, err := model.Train(r)
	if err != nil {
		t.Fatalf("--batch 1e9: %v", err)
	}
	if m.Config.Batch != 1000000000 {
		t.Errorf("recorded batch %d", m.Config.Batch)
	}
	r = smallRun(t, all, model.Model2, 2)
	r.Config.Batch = r.Train.N
	if _, err := model.Train(r); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(huge, "model2.npz"))
	b, _ := os.ReadFile(filepath.Join(all, "model2.npz"))
	if len(a) == 0 || string(a) != string(b) {
		t.Error("batch 1e9 and batch = rows gave different parameters")
	}
}
