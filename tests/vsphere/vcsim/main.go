// Command vcsim-hype serves govmomi's vCenter simulator on a loopback port
// for hype-vsphere's tests and benchmark. The simulator of Debian's govmomi
// (0.24) has no ExportVm, so this program adds it: an HttpNfcLease that goes
// to ready with one device URL per virtual disk ("*" as host, as vCenter
// does), the lease methods, and an HTTP handler that serves the disk files
// with Range support. Faults are injected with flags, and everything the
// client did to leases and files is listed at /hype/events.
//
// Credentials come from VCSIM_USERNAME and VCSIM_PASSWORD (default
// user/pass). On start it prints one JSON line {"url": ".../sdk"}; it exits
// when its standard input closes.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type config struct {
	diskSize     int64
	diskFile     string
	dataDir      string
	dropAfter    int64
	ignoreRange  bool
	truncate     bool
	leaseError   string
	leaseTimeout int
	rate         int64
	absurdSize   bool
	noFileSize   bool
	noLength     bool
	poweredOn    string
	pregen       string
	twins        bool
	templates    string
	diskCapacity int64
}

var cfg config

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Int64Var(&cfg.diskSize, "disk-size", 4<<20, "bytes of the first exported disk file (the second is 64 KiB larger)")
	flag.StringVar(&cfg.diskFile, "disk-file", "", "serve this file as every disk instead of generated content")
	flag.StringVar(&cfg.dataDir, "data-dir", "", "where generated disk files go (default: a temporary directory, removed at exit)")
	flag.Int64Var(&cfg.dropAfter, "drop-after", 0, "close the connection after this many bytes of each file's first request")
	flag.BoolVar(&cfg.ignoreRange, "ignore-range", false, "ignore Range headers: always answer 200 with the whole file")
	flag.BoolVar(&cfg.truncate, "truncate", false, "every response stops at half of the file and the connection closes")
	flag.StringVar(&cfg.leaseError, "lease-error", "", "the lease goes to state error with this message instead of ready")
	flag.IntVar(&cfg.leaseTimeout, "lease-timeout", 300, "seconds without HttpNfcLeaseProgress before the lease times out")
	flag.Int64Var(&cfg.rate, "rate", 0, "bytes per second per download (0: unlimited)")
	flag.BoolVar(&cfg.absurdSize, "absurd-size", false, "announce a 4 EiB file size for each disk")
	flag.BoolVar(&cfg.noFileSize, "no-file-size", false, "omit fileSize from device URLs (the client relies on Content-Length)")
	flag.BoolVar(&cfg.noLength, "no-length", false, "send disk files chunked, without Content-Length")
	flag.StringVar(&cfg.poweredOn, "powered-on", "DC0_H0_VM1", "comma-separated VMs left powered on; the others are powered off")
	flag.StringVar(&cfg.pregen, "pregen", "", "comma-separated VMs whose disk files are made at start, not at their first export")
	flag.StringVar(&cfg.templates, "templates", "", "comma-separated VMs marked as templates (config.template)")
	flag.BoolVar(&cfg.twins, "twins", false, "rename DC0_C0_RP0_VM0 and DC0_C0_RP0_VM1 both to twin")
	flag.Int64Var(&cfg.diskCapacity, "disk-capacity", 0, "bytes every VM's disks declare (0: the simulator's 1024 KB), to match a large -disk-file")
	flag.Parse()
	if os.Getenv("VCSIM_LOG") == "" {
		log.SetOutput(io.Discard) // the simulator logs every call; tests read /hype/events instead
	}

	if cfg.dataDir == "" {
		dir, err := os.MkdirTemp("", "vcsim-hype-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
		cfg.dataDir = dir
	}

	model := simulator.VPX()
	if err := model.Create(); err != nil {
		fatal(err)
	}
	defer model.Remove()
	prepareVMs()

	user, pass := os.Getenv("VCSIM_USERNAME"), os.Getenv("VCSIM_PASSWORD")
	if user == "" {
		user, pass = "user", "pass"
	}
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(user, pass)}
	model.Service.TLS = new(tls.Config)
	model.Service.HandleFunc(nfcPrefix, serveNFC)
	model.Service.HandleFunc("/hype/events", serveEvents)
	model.Service.HandleFunc("/hype/disk/", serveDisk)

	s := model.Service.NewServer()
	defer s.Close()

	u := *s.URL
	u.User = nil
	out, _ := json.Marshal(map[string]string{"url": u.String()})
	fmt.Println(string(out))

	_, _ = io.Copy(io.Discard, os.Stdin)
}

// prepareVMs powers off the VMs an export needs off, gives DC0_H0_VM0 a
// second disk, marks the -templates VMs as templates, and wraps every VM so it answers ExportVm.
func prepareVMs() {
	on, pregen, tmpl := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, n := range strings.Split(cfg.poweredOn, ",") {
		on[strings.TrimSpace(n)] = true
	}
	for _, n := range strings.Split(cfg.templates, ",") {
		tmpl[strings.TrimSpace(n)] = true
	}
	for _, n := range strings.Split(cfg.pregen, ",") {
		pregen[strings.TrimSpace(n)] = true
	}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		if !on[vm.Name] {
			vm.Runtime.PowerState = types.VirtualMachinePowerStatePoweredOff
			vm.Summary.Runtime.PowerState = types.VirtualMachinePowerStatePoweredOff
		}
		if vm.Name == "DC0_H0_VM0" {
			addDisk(vm)
		}
		if cfg.diskCapacity > 0 {
			for _, d := range vm.Config.Hardware.Device {
				if disk, ok := d.(*types.VirtualDisk); ok {
					disk.CapacityInKB = cfg.diskCapacity / 1024
					disk.CapacityInBytes = cfg.diskCapacity
				}
			}
		}
		if tmpl[vm.Name] {
			vm.Config.Template = true
			vm.Summary.Config.Template = true
		}
		if cfg.twins && strings.HasPrefix(vm.Name, "DC0_C0_RP0_VM") {
			vm.Name = "twin"
			vm.Config.Name = "twin"
			vm.Summary.Config.Name = "twin"
		}
		if pregen[vm.Name] && cfg.diskFile == "" {
			n := 0
			for _, d := range vm.Config.Hardware.Device {
				if _, ok := d.(*types.VirtualDisk); ok {
					if err := ensureFile(diskPath(vm.Name, n), diskSize(n), int64(n)); err != nil {
						fatal(err)
					}
					n++
				}
			}
		}
		simulator.Map.Put(&exportVM{*vm})
	}
}

func addDisk(vm *simulator.VirtualMachine) {
	var first *types.VirtualDisk
	maxKey := int32(0)
	for _, d := range vm.Config.Hardware.Device {
		dev := d.GetVirtualDevice()
		if dev.Key > maxKey {
			maxKey = dev.Key
		}
		if disk, ok := d.(*types.VirtualDisk); ok && first == nil {
			first = disk
		}
	}
	if first == nil {
		return
	}
	unit := *first.UnitNumber + 1
	disk := &types.VirtualDisk{
		VirtualDevice: types.VirtualDevice{
			Key:           maxKey + 1,
			ControllerKey: first.ControllerKey,
			UnitNumber:    &unit,
			Backing:       first.Backing,
			DeviceInfo:    &types.Description{Label: "Hard disk 2", Summary: "2,097,152 KB"},
		},
		CapacityInKB:    2048,
		CapacityInBytes: 2048 * 1024,
	}
	vm.Config.Hardware.Device = append(vm.Config.Hardware.Device, disk)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "vcsim-hype:", err)
	os.Exit(1)
}
