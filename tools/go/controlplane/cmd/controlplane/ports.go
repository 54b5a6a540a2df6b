package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Ports for the servers the launcher starts. Each is chosen here and bound by the server a moment later, so a
// port the kernel hands out for ":0" can be taken in between by any outgoing connection (they draw from the same
// ephemeral range): CI saw kube-controller-manager fail with "address already in use" that way. Ports below the
// ephemeral range are never given to outgoing connections, so the launcher picks from there, at random to keep
// concurrent launchers apart, and checks that the port is free now.
const lowestPort = 10000

func freePort() (int, error) {
	high := ephemeralLow() - 1
	for range 200 {
		port := lowestPort + rand.IntN(high-lowestPort+1)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free loopback port in %d-%d after 200 tries", lowestPort, high)
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux default 32768).
func ephemeralLow() int {
	const fallback = 32768
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	fields := strings.Fields(string(raw))
	if len(fields) != 2 {
		return fallback
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= lowestPort+1000 {
		return fallback
	}
	return low
}
