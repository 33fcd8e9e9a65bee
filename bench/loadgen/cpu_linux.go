//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of /proc's CPU times: USER_HZ, 100 on every Linux
// architecture Go runs on.
const clockTick = 10 * time.Millisecond

// processCPU is the CPU time, user and system, that process pid and all
// its threads have used so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("-pid: %w", err)
	}
	return parseStat(b)
}

// parseStat reads utime and stime, fields 14 and 15, from /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses: the fields
// are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/PID/stat: no command name")
	}
	fields := bytes.Fields(b[end+1:]) // from field 3, the state
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat: %d fields", len(fields)+2)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
