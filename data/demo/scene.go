package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// Config says how big a demo set to generate and how.
type Config struct {
	Images     int   // number of images (at least 1)
	Size       int   // width and height of each image in pixels (at least 32)
	Captions   int   // captions per image, written by that many simulated annotators (at least 1)
	MinObjects int   // fewest objects in a scene (at least 1)
	MaxObjects int   // most objects in a scene (at most len(Nouns()))
	Seed       int64 // same seed and config, same set, byte for byte
}

// DefaultConfig returns the configuration `tagimp-gpu demo` starts from.
func DefaultConfig() Config {
	return Config{Images: 800, Size: 128, Captions: 5, MinObjects: 1, MaxObjects: 3, Seed: 1}
}

// Validate reports the first field that is out of range, naming the fix.
func (c Config) Validate() error {
	switch {
	case c.Images < 1:
		return fmt.Errorf("demo: %d images requested: ask for at least 1", c.Images)
	case c.Size < 32:
		return fmt.Errorf("demo: image size %d is too small: use at least 32 pixels", c.Size)
	case c.Captions < 1:
		return fmt.Errorf("demo: %d captions per image: use at least 1", c.Captions)
	case c.MinObjects < 1 || c.MaxObjects < c.MinObjects:
		return fmt.Errorf("demo: objects per scene %d..%d: need 1 <= min <= max", c.MinObjects, c.MaxObjects)
	case c.MaxObjects > len(catalog):
		return fmt.Errorf("demo: %d objects per scene but only %d kinds exist: lower the maximum", c.MaxObjects, len(catalog))
	}
	return nil
}

// Object is one object placed in a scene. Coordinates are fractions of the
// image side, so a scene can be rendered at any size.
type Object struct {
	Noun       string  // what annotators call it
	X, Y       float64 // centre, in [0,1] (Y grows downwards)
	R          float64 // half the side of the object's bounding square
	Angle      float64 // rotation in radians
	Area       float64 // bounding-square area as a share of the image
	Centrality float64 // 1 at the image centre, 0 in a corner
	Mention    float64 // probability that one annotator mentions it
}

// Image is one generated scene with its captions.
type Image struct {
	ID       int64
	FileName string   // file name under DIR/images
	Scene    string   // background noun: field, water, road or table
	Visible  float64  // share of the background left uncovered by objects (approximate)
	SceneP   float64  // probability that one annotator mentions the background
	Objects  []Object // drawn in this order (later ones on top)
	Captions []string
}

// Truth returns the expected importance of every noun the image holds: the
// mention probability, which the empirical importance (mentions / captions)
// estimates.
func (im *Image) Truth() map[string]float64 {
	m := map[string]float64{im.Scene: im.SceneP}
	for _, o := range im.Objects {
		m[o.Noun] = o.Mention
	}
	return m
}

// kind is one object class: its noun and how it is drawn.
type kind struct {
	noun    string
	shape   shape
	color   [3]uint8
	second  [3]uint8 // texture colour
	texture texture
}

type background struct {
	noun   string
	phrase []string // how a caption places objects on it
	color  [3]uint8
	second [3]uint8
	tex    texture
}

// The colours are far apart (distinct hues, or black and white), and the
// backgrounds are pale, so that even a VGG16 with random weights, which
// mostly keeps colour and coarse layout, tells the objects apart and sees
// how much of the picture each covers.
var catalog = []kind{
	{"dog", shapeEllipse, [3]uint8{150, 75, 0}, [3]uint8{60, 30, 0}, texDots},
	{"cat", shapeEllipse, [3]uint8{255, 130, 0}, [3]uint8{120, 50, 0}, texStripesV},
	{"car", shapeCar, [3]uint8{220, 0, 0}, [3]uint8{20, 20, 20}, texSolid},
	{"tree", shapeTree, [3]uint8{0, 110, 0}, [3]uint8{100, 50, 0}, texSolid},
	{"house", shapeHouse, [3]uint8{255, 255, 255}, [3]uint8{200, 0, 0}, texSolid},
	{"ball", shapeCircle, [3]uint8{255, 255, 255}, [3]uint8{0, 0, 0}, texChecker},
	{"boat", shapeBoat, [3]uint8{0, 0, 230}, [3]uint8{255, 255, 255}, texSolid},
	{"fish", shapeFish, [3]uint8{255, 0, 255}, [3]uint8{110, 0, 110}, texStripesH},
	{"sun", shapeSun, [3]uint8{255, 240, 0}, [3]uint8{255, 170, 0}, texSolid},
	{"horse", shapeHorse, [3]uint8{35, 20, 10}, [3]uint8{0, 0, 0}, texSolid},
	{"star", shapeStar, [3]uint8{0, 230, 230}, [3]uint8{0, 120, 120}, texSolid},
	{"heart", shapeHeart, [3]uint8{120, 0, 200}, [3]uint8{220, 180, 255}, texDots},
	{"ring", shapeRing, [3]uint8{160, 160, 0}, [3]uint8{90, 90, 0}, texSolid},
	{"box", shapeSquare, [3]uint8{0, 90, 140}, [3]uint8{0, 40, 70}, texStripesH},
}

var backgrounds = []background{
	{"field", []string{"on the field", "in the field"}, [3]uint8{175, 215, 140}, [3]uint8{155, 195, 120}, texNoise},
	{"water", []string{"in the water", "on the water"}, [3]uint8{160, 200, 240}, [3]uint8{190, 220, 250}, texWaves},
	{"road", []string{"on the road", "by the road"}, [3]uint8{140, 140, 140}, [3]uint8{200, 200, 200}, texNoise},
	{"table", []string{"on the table", "on a table"}, [3]uint8{225, 195, 150}, [3]uint8{205, 175, 130}, texStripesH},
}

// Nouns returns the object nouns the generator uses, in catalogue order.
func Nouns() []string {
	out := make([]string, len(catalog))
	for i, k := range catalog {
		out[i] = k.noun
	}
	return out
}

// Scenes returns the background nouns the generator uses.
func Scenes() []string {
	out := make([]string, len(backgrounds))
	for i, b := range backgrounds {
		out[i] = b.noun
	}
	return out
}

// Sizes of objects: R (half-side) in [minR, maxR] of the image side.
const (
	minR = 0.08
	maxR = 0.40
)

// sizeWeight is how much an object's size, rather than its closeness to
// the centre, decides how often annotators mention it.
const sizeWeight = 0.85

// mentionProb is the simulated annotators' rule: objects that are bigger and
// closer to the centre get mentioned more often, size counting most.
func mentionProb(r, centrality float64) float64 {
	size := (r - minR) / (maxR - minR)
	s := sizeWeight*size + (1-sizeWeight)*centrality
	return 0.05 + 0.92*s
}

// sceneProb: the background is mentioned more when more of it shows.
func sceneProb(visible float64) float64 {
	return clamp(0.05+0.9*(visible-0.45)/0.5, 0.05, 0.95)
}

// mentions decides which of n annotators mention a thing each mentions
// with probability p. The draws are stratified: annotator a mentions it when
// (π(a) + u)/n < p, with u uniform and π a random permutation, so each
// annotator still mentions it with probability exactly p, but the share of
// annotators who do is p rounded to a multiple of 1/n up or down, not the
// spread of n independent coin flips. The importance is then decided by the
// picture, as it is for COCO's careful annotators, rather than by luck.
func mentions(rng *rand.Rand, p float64, n int) []bool {
	u := rng.Float64()
	out := make([]bool, n)
	for a, k := range rng.Perm(n) {
		out[a] = (float64(k)+u)/float64(n) < p
	}
	return out
}

func clamp(x, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, x))
}

// rngFor gives image i its own generator, so images do not depend on each
// other and can be drawn in any order.
func rngFor(seed int64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(i)*0x9E3779B97F4A7C15+1))
}

// Generate builds the scenes and captions of a set (no pixels).
func Generate(cfg Config) ([]Image, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	images := make([]Image, cfg.Images)
	for i := range images {
		images[i] = generateOne(cfg, i)
	}
	return images, nil
}

func generateOne(cfg Config, i int) Image {
	rng := rngFor(cfg.Seed, i)
	id := int64(i + 1)
	im := Image{ID: id, FileName: fmt.Sprintf("%012d.png", id)}
	bg := backgrounds[rng.IntN(len(backgrounds))]
	im.Scene = bg.noun
	n := cfg.MinObjects + rng.IntN(cfg.MaxObjects-cfg.MinObjects+1)
	kinds := rng.Perm(len(catalog))[:n]
	covered := 0.0
	for _, k := range kinds {
		var o Object
		// A few tries to keep objects from hiding each other.
		for try := 0; try < 20; try++ {
			r := minR + (maxR-minR)*rng.Float64()
			o = Object{
				Noun:  catalog[k].noun,
				R:     r,
				X:     r + (1-2*r)*rng.Float64(),
				Y:     r + (1-2*r)*rng.Float64(),
				Angle: (rng.Float64() - 0.5) * 0.6,
			}
			if !overlapsTooMuch(o, im.Objects) {
				break
			}
		}
		o.Area = 4 * o.R * o.R
		d := math.Hypot(o.X-0.5, o.Y-0.5) / math.Hypot(0.5, 0.5)
		o.Centrality = 1 - d
		o.Mention = mentionProb(o.R, o.Centrality)
		covered += o.Area * 0.7 // shapes fill about 70% of their box
		im.Objects = append(im.Objects, o)
	}
	im.Visible = clamp(1-covered, 0, 1)
	im.SceneP = sceneProb(im.Visible)
	said := make([][]bool, len(im.Objects)) // said[object][annotator]
	for i, o := range im.Objects {
		said[i] = mentions(rng, o.Mention, cfg.Captions)
	}
	sceneSaid := mentions(rng, im.SceneP, cfg.Captions)
	for a := 0; a < cfg.Captions; a++ {
		var picked []Object
		for i, o := range im.Objects {
			if said[i][a] {
				picked = append(picked, o)
			}
		}
		im.Captions = append(im.Captions, annotate(rng, &im, bg, picked, sceneSaid[a]))
	}
	return im
}

func overlapsTooMuch(o Object, others []Object) bool {
	for _, p := range others {
		if math.Hypot(o.X-p.X, o.Y-p.Y) < 0.8*(o.R+p.R) {
			return true
		}
	}
	return false
}

var (
	bigWords   = []string{"big", "large", "huge"}
	smallWords = []string{"small", "little", "tiny"}
)

// annotate writes one caption naming the picked objects (and the
// background when withScene is set) as a simulated annotator would.
func annotate(rng *rand.Rand, im *Image, bg background, picked []Object, withScene bool) string {
	if len(picked) == 0 {
		// Nobody writes an empty caption: name the most salient object.
		best := im.Objects[0]
		for _, o := range im.Objects[1:] {
			if o.Mention > best.Mention {
				best = o
			}
		}
		picked = append(picked, best)
	}
	// Annotators tend to name the salient object first.
	sort.SliceStable(picked, func(a, b int) bool { return picked[a].Mention > picked[b].Mention })
	if len(picked) > 1 && rng.Float64() < 0.3 {
		picked[0], picked[1] = picked[1], picked[0]
	}
	phrases := make([]string, len(picked))
	for i, o := range picked {
		phrases[i] = nounPhrase(rng, o)
	}
	var s string
	switch len(phrases) {
	case 1:
		s = phrases[0]
	case 2:
		joins := []string{" and ", " next to ", " near ", " with "}
		s = phrases[0] + joins[rng.IntN(len(joins))] + phrases[1]
	default:
		s = strings.Join(phrases[:len(phrases)-1], ", ") + " and " + phrases[len(phrases)-1]
	}
	if withScene {
		s += " " + bg.phrase[rng.IntN(len(bg.phrase))]
	}
	if rng.IntN(4) == 0 {
		s = "There is " + s
	} else {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s + "."
}

func nounPhrase(rng *rand.Rand, o Object) string {
	size := (o.R - minR) / (maxR - minR)
	adj := ""
	switch {
	case size > 0.75 && rng.IntN(2) == 0:
		adj = bigWords[rng.IntN(len(bigWords))] + " "
	case size < 0.25 && rng.IntN(2) == 0:
		adj = smallWords[rng.IntN(len(smallWords))] + " "
	}
	return "a " + adj + o.Noun
}
