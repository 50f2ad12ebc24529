//go:build race

package token

// allocBound is F6's bound on the bytes one Verify may allocate. The race
// detector's instrumentation moves values to the heap that a normal build
// keeps on the stack, so under -race the bound is looser; it still catches
// any allocation that grows with a hostile input.
const allocBound = 96 << 10
