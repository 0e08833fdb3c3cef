package vgg16

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"tagimp/data/npy"
)

// torchScript builds small() in PyTorch the way torchvision builds VGG
// (nn.Sequential features of conv/ReLU/max-pool, classifier Linear, ReLU,
// Dropout, Linear, ReLU, Dropout, Linear; no adaptive pool since the small
// input ends at 2×2), saves its state_dict in both torch formats and writes
// an input batch with torch's fc7 for it.
const torchScript = `
import sys, numpy as np, torch, torch.nn as nn
out = sys.argv[1]
torch.manual_seed(0)
layers, c = [], 3
for v in [4, 4, 'M', 6, 6, 'M', 8, 8, 8, 'M', 8, 8, 8, 'M', 5, 5, 5, 'M']:
    if v == 'M':
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    else:
        layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        c = v
class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(5 * 2 * 2, 12), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(12, 12), nn.ReLU(True), nn.Dropout(), nn.Linear(12, 7))
m = VGG().eval()
torch.save(m.state_dict(), out + '/zip.pth')
torch.save(m.state_dict(), out + '/legacy.pth', _use_new_zipfile_serialization=False)
x = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    f = torch.flatten(m.features(x), 1)
    fc7 = m.classifier[:5](f)
np.save(out + '/x.npy', x.numpy().astype(np.float32))
np.save(out + '/fc7.npy', fc7.numpy().astype(np.float32))
`

// TestAgainstPyTorch checks the loaders and the forward pass against real
// torch.save files and PyTorch's own forward. It needs a python3 with
// torch (GPU machines have one); elsewhere it is skipped.
func TestAgainstPyTorch(t *testing.T) {
	var python string
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import torch, numpy").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("no python3 with torch and numpy; the PyTorch cross-check runs where one is installed")
	}
	dir := t.TempDir()
	if out, err := exec.Command(python, "-c", torchScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("torch script: %v\n%s", err, out)
	}
	x, err := npy.ReadFile(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, "fc7.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"zip.pth", "legacy.pth"} {
		t.Run(name, func(t *testing.T) {
			n, err := LoadConfig(filepath.Join(dir, name), small())
			if err != nil {
				t.Fatal(err)
			}
			got, err := n.FC7(x.F32, 2)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "fc7 vs PyTorch", got, want.F32, 1e-4)
		})
	}
}

// TestNumpyNPZ checks the .npz layout both ways with numpy: numpy reads what
// SaveNPZ writes, and Load reads what numpy.savez_compressed writes.
func TestNumpyNPZ(t *testing.T) {
	const python = "/usr/bin/python3"
	if exec.Command(python, "-c", "import numpy").Run() != nil {
		t.Skip("no /usr/bin/python3 with numpy")
	}
	ref := smallNet(t, 4)
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.npz")
	if err := ref.SaveNPZ(ours); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "theirs.npz")
	script := `
import sys, numpy as np
z = np.load(sys.argv[1])
assert bytes(z['preprocess']).decode() == 'torchvision', z['preprocess']
for k in z.files:
    if k != 'preprocess':
        assert z[k].dtype == np.float32, (k, z[k].dtype)
assert z['features.0.weight'].shape == (4, 3, 3, 3)
assert z['classifier.0.weight'].shape == (12, 20)
d = {k: z[k] for k in z.files if k != 'preprocess'}
d['preprocess'] = np.frombuffer(b'caffe', dtype=np.uint8)
np.savez_compressed(sys.argv[2], **d)
`
	if out, err := exec.Command(python, "-c", script, ours, theirs).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	n, err := LoadConfig(theirs, small())
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, ref, n)
	if n.Preprocess() != "caffe" {
		t.Fatalf("preprocess %q, want caffe", n.Preprocess())
	}
}

// fullTorchScript builds full-size VGG16 exactly as torchvision does (same
// state_dict names and shapes; torchvision itself is not needed), saves it
// in the legacy format that vgg16-397923af.pth uses, and writes fc7 of one
// random 224×224 input.
const fullTorchScript = `
import sys, numpy as np, torch, torch.nn as nn
out = sys.argv[1]
torch.manual_seed(0)
layers, c = [], 3
for v in [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']:
    if v == 'M':
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    else:
        layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        c = v
class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000))
m = VGG().eval()
for mod in m.modules():
    if isinstance(mod, nn.Conv2d):
        nn.init.kaiming_normal_(mod.weight, mode='fan_in', nonlinearity='relu')
        nn.init.normal_(mod.bias, 0, 0.05)
torch.save(m.state_dict(), out + '/vgg16.pth', _use_new_zipfile_serialization=False)
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    fc7 = m.classifier[:5](torch.flatten(m.avgpool(m.features(x)), 1))
np.save(out + '/x.npy', x.numpy().astype(np.float32))
np.save(out + '/fc7.npy', fc7.numpy().astype(np.float32))
`

// TestFullVGG16AgainstPyTorch loads a full-size (528 MB) legacy-format
// VGG16 checkpoint written by torch.save and compares fc7 with PyTorch's.
// Opt-in (about 30 s and 2 GB of memory): TAGIMP_TORCH_FULL=1.
func TestFullVGG16AgainstPyTorch(t *testing.T) {
	if os.Getenv("TAGIMP_TORCH_FULL") == "" {
		t.Skip("set TAGIMP_TORCH_FULL=1 to compare full-size VGG16 with PyTorch (needs /usr/bin/python3 with torch)")
	}
	const python = "/usr/bin/python3"
	dir := t.TempDir()
	start := time.Now()
	if out, err := exec.Command(python, "-c", fullTorchScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("torch script: %v\n%s", err, out)
	}
	t.Logf("torch: built, saved and ran VGG16 in %v", time.Since(start))
	x, err := npy.ReadFile(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, "fc7.npy"))
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	n, err := Load(filepath.Join(dir, "vgg16.pth"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Load: %v (sha256 %s, fc8 %v)", time.Since(start), n.SHA256(), n.HasFC8())
	got, err := n.FC7(x.F32, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "fc7 vs PyTorch", got, want.F32, 1e-3)
}
