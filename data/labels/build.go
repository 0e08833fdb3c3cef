package labels

import (
	"cmp"
	"fmt"
	"slices"

	"tagimp/data/coco"
)

// Build counts the tags of a caption file and labels its images with the
// tags counted at least minCount times. nouns[k] are the noun lemmas of the
// k-th caption of c.Flat(), as nouns.Tagger.NounsAll returns them.
func Build(c *coco.Captions, nouns [][]string, minCount int) (*Vocab, *Set, error) {
	return BuildOn(c, nouns, minCount, nil)
}

// BuildOn is Build with the tags counted over the captions of the images
// countIDs only (the training split: the test images' captions must not
// choose the vocabulary); nil counts every image. All images of c are
// labelled. Vocab.Images and Vocab.Captions describe the counted images.
func BuildOn(c *coco.Captions, nouns [][]string, minCount int, countIDs []int64) (*Vocab, *Set, error) {
	texts, image := c.Flat()
	if len(nouns) != len(texts) {
		return nil, nil, fmt.Errorf("labels for %s: %d noun lists for %d captions", c.Path, len(nouns), len(texts))
	}
	if minCount < 1 {
		return nil, nil, fmt.Errorf("labels for %s: min-count %d, want at least 1", c.Path, minCount)
	}
	counted := make([]bool, len(c.IDs))
	for i := range counted {
		counted[i] = countIDs == nil
	}
	for _, id := range countIDs {
		i, ok := slices.BinarySearch(c.IDs, id)
		if !ok {
			return nil, nil, fmt.Errorf("labels for %s: image %d to count is not in the file", c.Path, id)
		}
		counted[i] = true
	}
	counts := map[string]int{}
	v := &Vocab{MinCount: minCount}
	for i, cs := range c.Captions {
		if counted[i] {
			v.Images++
			v.Captions += len(cs)
		}
	}
	for k, ns := range nouns {
		if !counted[image[k]] {
			continue
		}
		for _, n := range distinct(ns) {
			counts[n]++
		}
	}
	for tag, n := range counts {
		if n >= minCount {
			v.Tags = append(v.Tags, TagCount{tag, n})
		}
	}
	if len(counts) == 0 {
		return nil, nil, fmt.Errorf("labels for %s: no caption has a noun; is the file English captions?", c.Path)
	}
	if len(v.Tags) == 0 {
		top := TagCount{}
		for tag, n := range counts {
			if n > top.Count || n == top.Count && tag < top.Tag {
				top = TagCount{tag, n}
			}
		}
		return nil, nil, fmt.Errorf("labels for %s: min-count %d leaves no tag (the most frequent noun, %q, is in %d captions); lower --min-count", c.Path, minCount, top.Tag, top.Count)
	}
	slices.SortFunc(v.Tags, func(a, b TagCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return cmp.Compare(a.Tag, b.Tag)
	})
	s, err := Apply(c, nouns, v)
	if err != nil {
		return nil, nil, err
	}
	return v, s, nil
}

// Apply labels the images of c over a fixed vocabulary v (for a test file
// labelled with the vocabulary of the training file). Nouns outside v are
// ignored.
func Apply(c *coco.Captions, nouns [][]string, v *Vocab) (*Set, error) {
	texts, image := c.Flat()
	if len(nouns) != len(texts) {
		return nil, fmt.Errorf("labels for %s: %d noun lists for %d captions", c.Path, len(nouns), len(texts))
	}
	if err := v.check(); err != nil {
		return nil, fmt.Errorf("labels for %s: %w", c.Path, err)
	}
	names := v.Names()
	index := make(map[string]int, len(names))
	for j, t := range names {
		index[t] = j
	}
	n, t := len(c.IDs), len(names)
	s := &Set{
		IDs:        slices.Clone(c.IDs),
		Tags:       names,
		Presence:   make([]uint8, n*t),
		Importance: make([]float32, n*t),
	}
	mentions := make([]int, n*t)
	for k, ns := range nouns {
		row := image[k] * t
		for _, noun := range distinct(ns) {
			if j, ok := index[noun]; ok {
				mentions[row+j]++
			}
		}
	}
	for i, caps := range c.Captions {
		for j := 0; j < t; j++ {
			m := mentions[i*t+j]
			if m > 0 {
				s.Importance[i*t+j] = float32(m) / float32(len(caps))
				s.Presence[i*t+j] = 1
			}
		}
	}
	return s, nil
}

// distinct returns the words of ws without repeats, in first-seen order.
func distinct(ws []string) []string {
	if len(ws) < 2 {
		return ws
	}
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}
