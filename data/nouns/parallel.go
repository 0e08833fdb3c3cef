package nouns

// NounsAll returns Nouns of every caption, in caption order, using workers
// goroutines (GOMAXPROCS when workers < 1). The result does not depend on
// the number of workers. progress, when not nil, is called from the calling
// goroutine with the number of captions done so far and the total.
func (t *Tagger) NounsAll(captions []string, workers int, progress func(done, total int)) [][]string {
	out := make([][]string, len(captions))
	t.parallel(len(captions), workers, progress, func(sc *scorer, i int) { out[i] = sc.nouns(captions[i]) })
	return out
}
