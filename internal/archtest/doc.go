// Package archtest holds tests of the code's shape: which package may import
// which (DESIGN.md, "Layout and data flow").
package archtest
