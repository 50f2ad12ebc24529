package main

import "strings"

// problemList is an error that lists several problems under one summary,
// printed one per line so that every problem is seen at once.
type problemList struct {
	summary string
	errs    []error
}

func (p *problemList) Error() string {
	var b strings.Builder
	b.WriteString(p.summary)
	b.WriteString(":")
	for _, e := range p.errs {
		for i, line := range strings.Split(e.Error(), "\n") {
			if i == 0 {
				b.WriteString("\n  - ")
			} else {
				b.WriteString("\n    ")
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

func (p *problemList) Unwrap() []error { return p.errs }

// problems returns err (joined or not) as a problemList under summary, or
// nil if err is nil.
func problems(summary string, err error) error {
	if err == nil {
		return nil
	}
	return &problemList{summary: summary, errs: flatten(err)}
}

// flatten lists the leaves of a tree of errors.Join errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, mine := err.(*problemList); !mine {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, flatten(e)...)
			}
			return out
		}
	}
	return []error{err}
}

// formatError is the message main prints for a failed command: one line
// for a simple error, a list for several problems.
func formatError(err error) string {
	if p, ok := err.(*problemList); ok {
		return "latchkey: " + p.Error()
	}
	return "latchkey: " + strings.ReplaceAll(err.Error(), "\n", "\n  ")
}
