package features

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard selects one machine's part of the images: those whose id mod N is
// K. The zero value and {0, 1} select everything.
type Shard struct{ K, N int }

// String returns "K/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.n()) }

func (s Shard) n() int {
	if s.N < 1 {
		return 1
	}
	return s.N
}

// Has reports whether image id belongs to the part.
func (s Shard) Has(id int64) bool {
	n := int64(s.n())
	return ((id%n)+n)%n == int64(s.K)
}

func (s Shard) validate() error {
	if s.N < 0 || s.K < 0 || (s.N > 0 && s.K >= s.N) || (s.N == 0 && s.K != 0) {
		return fmt.Errorf("shard %d/%d: want 0 <= K < N", s.K, s.N)
	}
	return nil
}

// ParseShard parses "K/N" with 0 <= K < N.
func ParseShard(s string) (Shard, error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(strings.TrimSpace(ks))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return Shard{}, fmt.Errorf("--shard %q: want K/N with 0 <= K < N, e.g. 0/4", s)
	}
	return Shard{K: k, N: n}, nil
}

// ShardFromEnv picks the part from a job array's environment when no
// --shard is given: Slurm's SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN)
// out of SLURM_ARRAY_TASK_COUNT, or Kubernetes' JOB_COMPLETION_INDEX out of
// count (the Indexed Job's completions, which Kubernetes does not put in the
// environment). count, when non-zero, also overrides Slurm's count. The
// Slurm array must be contiguous (--array=0-9 or 1-10, no step). found is
// false when neither variable is set.
func ShardFromEnv(getenv func(string) string, count int) (s Shard, found bool, err error) {
	if id := getenv("SLURM_ARRAY_TASK_ID"); id != "" {
		k, err := strconv.Atoi(id)
		if err != nil {
			return Shard{}, true, fmt.Errorf("SLURM_ARRAY_TASK_ID=%q is not a number", id)
		}
		if min := getenv("SLURM_ARRAY_TASK_MIN"); min != "" {
			m, err := strconv.Atoi(min)
			if err != nil {
				return Shard{}, true, fmt.Errorf("SLURM_ARRAY_TASK_MIN=%q is not a number", min)
			}
			k -= m
		}
		n := count
		if n == 0 {
			c := getenv("SLURM_ARRAY_TASK_COUNT")
			if n, err = strconv.Atoi(c); err != nil {
				return Shard{}, true, fmt.Errorf("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT=%q is not a number; pass --shard-count N", c)
			}
		}
		s := Shard{K: k, N: n}
		if err := s.validate(); err != nil || n < 1 {
			return Shard{}, true, fmt.Errorf("Slurm array task %s: part %d of %d is out of range; use a contiguous --array without a step, or pass --shard K/N", id, k, n)
		}
		return s, true, nil
	}
	if idx := getenv("JOB_COMPLETION_INDEX"); idx != "" {
		k, err := strconv.Atoi(idx)
		if err != nil {
			return Shard{}, true, fmt.Errorf("JOB_COMPLETION_INDEX=%q is not a number", idx)
		}
		if count < 1 {
			return Shard{}, true, fmt.Errorf("JOB_COMPLETION_INDEX=%d is set but the number of parts is unknown: pass --shard-count N (the Job's completions)", k)
		}
		s := Shard{K: k, N: count}
		if err := s.validate(); err != nil {
			return Shard{}, true, fmt.Errorf("JOB_COMPLETION_INDEX=%d is not below --shard-count %d", k, count)
		}
		return s, true, nil
	}
	return Shard{K: 0, N: 1}, false, nil
}
