package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux this runs on (Go cannot ask sysconf without cgo).
const clockTicks = 100

// parseProcStat returns the user plus system CPU time of a process from the
// text of its /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may itself hold spaces and parentheses, so the fields are
// counted after its last ')': utime and stime are fields 14 and 15.
func parseProcStat(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	fields := strings.Fields(stat[end+1:])
	// fields[0] is field 3 (state): utime (14) is fields[11], stime fields[12].
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("utime/stime %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseMachineCPU returns the busy CPU time of the whole machine, all
// cores, from the text of /proc/stat: the first line's user, nice, system,
// irq, softirq and steal (not idle, iowait, nor guest, which user holds).
func parseMachineCPU(stat string) (time.Duration, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat does not start with the cpu line")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat cpu field %d: %w", i, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineCPU(string(b))
}

// procCPU is the CPU time pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// listenInodes returns the socket inodes of the TCP sockets listening on
// port in the text of /proc/net/tcp or /proc/net/tcp6.
func listenInodes(table string, port int) []string {
	var inodes []string
	sc := bufio.NewScanner(strings.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseInt(f[1][i+1:], 16, 32)
		if err != nil || int(p) != port {
			continue
		}
		inodes = append(inodes, f[9])
	}
	return inodes
}

// listenerPID finds the process listening on TCP port: the socket's inode
// from /proc/net/tcp{,6}, then the process with a descriptor on
// socket:[inode] in /proc/*/fd.
func listenerPID(port int) (int, error) {
	want := map[string]bool{}
	for _, t := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, ino := range listenInodes(string(b), port) {
			want["socket:["+ino+"]"] = true
		}
	}
	if len(want) == 0 {
		return 0, fmt.Errorf("no socket listens on port %d in /proc/net/tcp or /proc/net/tcp6", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		fds, err := os.ReadDir(p + "/fd")
		if err != nil {
			continue // another user's process, or gone
		}
		for _, fd := range fds {
			if target, err := os.Readlink(p + "/fd/" + fd.Name()); err == nil && want[target] {
				return strconv.Atoi(filepath.Base(p))
			}
		}
	}
	return 0, fmt.Errorf("a socket listens on port %d but no process of /proc/*/fd holds it (another user's, or in another PID namespace: run syncload as its user or root)", port)
}

// natsPID is the PID of the NATS server at natsURL, which must be on this
// machine.
func natsPID(natsURL string) (int, error) {
	u, err := url.Parse(natsURL)
	if err != nil {
		return 0, fmt.Errorf("-nats-url: %w", err)
	}
	port := 4222
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return 0, fmt.Errorf("-nats-url port: %w", err)
		}
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0, fmt.Errorf("NATS CPU per command needs the server on this machine: -nats-url %s is not a loopback address", u.Host)
	}
	pid, err := listenerPID(port)
	if err != nil {
		return 0, fmt.Errorf("the NATS server's process (for its CPU per command): %w", err)
	}
	return pid, nil
}

// parseRedisCPU returns used_cpu_user + used_cpu_sys from the text of
// Redis's INFO cpu.
func parseRedisCPU(info string) (time.Duration, error) {
	var total float64
	found := 0
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu %s: %w", k, err)
		}
		total += f
		found++
	}
	if found != 2 {
		return 0, errors.New("INFO cpu has no used_cpu_user and used_cpu_sys")
	}
	return time.Duration(total * float64(time.Second)), nil
}

func redisCPU(ctx context.Context, rc *redis.Client) (time.Duration, error) {
	info, err := rc.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO cpu: %w", err)
	}
	return parseRedisCPU(info)
}

// cpuSnapshot is the CPU every process of a run has used so far.
type cpuSnapshot struct {
	at                         time.Time
	pipeline, nats, redis, sim time.Duration
	// self is syncload's own CPU (publishing, counting results); machine
	// the busy CPU of the whole machine, which shows what other processes
	// took beside the measured ones.
	self, machine time.Duration
}

// other is the machine's busy CPU that no measured process (nor syncload)
// used: other users of the machine.
func (s cpuSnapshot) other() time.Duration {
	return max(0, s.machine-s.pipeline-s.nats-s.redis-s.sim-s.self)
}

// cpuMeter takes snapshots of the pipeline process, the NATS server, Redis
// and the simulator child.
type cpuMeter struct {
	// pipelinePID is set once the pipeline process has started, which
	// may be after the subscription that snapshots is.
	pipelinePID     atomic.Int64
	natsPID, simPID int
	rc              *redis.Client
}

func (m *cpuMeter) snapshot(ctx context.Context) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now()}
	var errs []error
	var err error
	if s.pipeline, err = procCPU(int(m.pipelinePID.Load())); err != nil {
		errs = append(errs, fmt.Errorf("pipeline: %w", err))
	}
	if s.nats, err = procCPU(m.natsPID); err != nil {
		errs = append(errs, fmt.Errorf("NATS: %w", err))
	}
	if s.sim, err = procCPU(m.simPID); err != nil {
		errs = append(errs, fmt.Errorf("simulator: %w", err))
	}
	if s.redis, err = redisCPU(ctx, m.rc); err != nil {
		errs = append(errs, err)
	}
	if s.self, err = procCPU(os.Getpid()); err != nil {
		errs = append(errs, fmt.Errorf("syncload: %w", err))
	}
	if s.machine, err = machineCPU(); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// sub is the CPU used between two snapshots.
func (s cpuSnapshot) sub(earlier cpuSnapshot) cpuSnapshot {
	return cpuSnapshot{at: s.at, pipeline: s.pipeline - earlier.pipeline, nats: s.nats - earlier.nats,
		redis: s.redis - earlier.redis, sim: s.sim - earlier.sim, self: s.self - earlier.self, machine: s.machine - earlier.machine}
}
