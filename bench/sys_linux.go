//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// processCPU returns the CPU time (user + system) this process has used.
func processCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}

// processRSS returns this process's resident set size in bytes (VmRSS).
func processRSS() int64 { return procStatusBytes("VmRSS:") }

// processPeakRSS returns the peak resident set size of this process since
// it started, in bytes (VmHWM): a forced GC does not lower it.
func processPeakRSS() int64 { return procStatusBytes("VmHWM:") }

// procStatusBytes returns a field of /proc/self/status given in kB, in
// bytes, or 0.
func procStatusBytes(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := bytes.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// pidCPU returns the CPU time (utime + stime) of another process, from
// /proc/PID/stat; false if it cannot be read.
func pidCPU(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may contain spaces:
	// count fields from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	// After ')': state is field 3, so utime (14) and stime (15) are f[11], f[12].
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (u + s) * (1e9 / clockTicks), true
}

// isBackendOf reports whether pid is a local PostgreSQL backend serving
// database db: its command line (the process title PostgreSQL sets,
// "postgres: [CLUSTER: ]USER DB HOST(PORT) STATE") names db as a word.
func isBackendOf(pid int, db string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	title := string(bytes.ReplaceAll(b, []byte{0}, []byte(" "))) + " "
	return strings.HasPrefix(title, "postgres") && strings.Contains(title, " "+db+" ")
}

// pinSelf re-executes this program under taskset on -client-cpu, so that
// every thread of the generator stays off the server's core. (Setting the
// affinity from inside would reach only the calling thread.)
func pinSelf(o options) {
	if os.Getenv(envPinned) == "1" || runtime.NumCPU() < 2 {
		return
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	args := append([]string{"taskset", "-c", strconv.Itoa(o.clientCPU), exe}, os.Args[1:]...)
	env := append(os.Environ(), envPinned+"=1")
	err = syscall.Exec(taskset, args, env)
	fmt.Fprintf(os.Stderr, "bench: cannot pin the generator with taskset (%v); running unpinned\n", err)
}

// machineBusy returns the time all CPUs together spent busy (everything
// but idle and iowait in /proc/stat, so also softirq work that no process's
// rusage is charged for).
func machineBusy() (int64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("cpu "))
	if !ok {
		return 0, false
	}
	var busy int64
	for i, f := range bytes.Fields(rest) {
		if i >= 8 { // guest time is already in user time
			break
		}
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy * (1e9 / clockTicks), true
}
