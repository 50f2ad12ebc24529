//go:build !linux

package main

func processCPU() (int64, bool)    { return 0, false }
func processRSS() int64            { return 0 }
func processPeakRSS() int64        { return 0 }
func pidCPU(pid int) (int64, bool) { return 0, false }

// isBackendOf: no /proc here, so PostgreSQL's backends are not measured.
func isBackendOf(pid int, db string) bool { return false }

// pinSelf does nothing here: taskset is Linux only.
func pinSelf(options) {}

func machineBusy() (int64, bool) { return 0, false }
