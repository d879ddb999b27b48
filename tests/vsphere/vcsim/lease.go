package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// exportVM adds ExportVm to the simulator's VirtualMachine. It embeds the
// value, not a pointer: the PropertyCollector of 0.24 digs the mo type out
// of wrappers through struct fields only.
type exportVM struct {
	simulator.VirtualMachine
}

type lease struct {
	mo.HttpNfcLease

	mu           sync.Mutex
	files        map[string]servedFile // by the last element of the URL path
	lastProgress time.Time
	requests     map[string]int // GETs seen per file, for -drop-after
}

type servedFile struct {
	path string
	size int64
}

var (
	leases   sync.Map // lease id -> *lease
	leaseSeq int64
)

func (vm *exportVM) ExportVm(ctx *simulator.Context, req *types.ExportVm) soap.HasFault {
	body := &methods.ExportVmBody{}
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		body.Fault_ = simulator.Fault("The attempted operation cannot be performed in the current state (Powered on).",
			&types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: vm.Runtime.PowerState})
		return body
	}
	id := fmt.Sprintf("lease-%d", atomic.AddInt64(&leaseSeq, 1))
	l := &lease{files: map[string]servedFile{}, requests: map[string]int{}, lastProgress: time.Now()}
	l.Self = types.ManagedObjectReference{Type: "HttpNfcLease", Value: id}
	l.State = types.HttpNfcLeaseStateInitializing
	ctx.Session.Put(l)
	leases.Store(id, l)
	var kinds []string
	for _, d := range vm.Config.Hardware.Device {
		kinds = append(kinds, reflect.TypeOf(d).Elem().Name())
	}
	record(event{Kind: "lease", Lease: id, State: string(l.State), Vm: vm.Name, Devices: kinds})

	devices := vm.Config.Hardware.Device
	name := vm.Name
	self := vm.Self
	go l.prepare(name, self, devices)

	body.Res = &types.ExportVmResponse{Returnval: l.Self}
	return body
}

// prepare makes the disk files and moves the lease to ready (or error), as
// vCenter does once it has opened the disks.
func (l *lease) prepare(name string, self types.ManagedObjectReference, devices []types.BaseVirtualDevice) {
	time.Sleep(150 * time.Millisecond)
	if cfg.leaseError != "" {
		l.setState(types.HttpNfcLeaseStateError, &types.LocalizedMethodFault{
			Fault:            &types.SystemError{Reason: cfg.leaseError},
			LocalizedMessage: cfg.leaseError,
		})
		return
	}
	info := &types.HttpNfcLeaseInfo{Lease: l.Self, Entity: self, LeaseTimeout: int32(cfg.leaseTimeout)}
	i := 0
	for _, d := range devices {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		file := fmt.Sprintf("disk-%d.vmdk", i)
		path := cfg.diskFile
		if path == "" {
			path = diskPath(name, i)
			if err := ensureFile(path, diskSize(i), int64(i)); err != nil {
				l.setState(types.HttpNfcLeaseStateError, &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: err.Error()}, LocalizedMessage: err.Error()})
				return
			}
		}
		st, err := os.Stat(path)
		if err != nil {
			l.setState(types.HttpNfcLeaseStateError, &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: err.Error()}, LocalizedMessage: err.Error()})
			return
		}
		l.files[file] = servedFile{path: path, size: st.Size()}
		yes := true
		du := types.HttpNfcLeaseDeviceUrl{
			Key:       deviceKey(self, devices, disk),
			ImportKey: deviceKey(self, devices, disk),
			Url:       fmt.Sprintf("https://*%s%s/%s", nfcPrefix, l.Self.Value, file),
			Disk:      &yes,
			TargetId:  fmt.Sprintf("%s-disk%d.vmdk", name, i),
			FileSize:  st.Size(),
		}
		if cfg.noFileSize {
			du.FileSize = 0
		}
		if cfg.absurdSize {
			du.FileSize = 1 << 62
		}
		info.DeviceUrl = append(info.DeviceUrl, du)
		info.TotalDiskCapacityInKB += disk.CapacityInKB
		i++
	}
	// vCenter also lists the VM's nvram, which is not a disk.
	nvram := filepath.Join(cfg.dataDir, name+".nvram")
	_ = os.WriteFile(nvram, []byte("nvram"), 0o644)
	l.files[name+".nvram"] = servedFile{path: nvram, size: 5}
	no := false
	info.DeviceUrl = append(info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
		Key: "/" + self.Value + "/nvram", ImportKey: "/" + self.Value + "/nvram",
		Url: fmt.Sprintf("https://*%s%s/%s", nfcPrefix, l.Self.Value, name+".nvram"), Disk: &no, TargetId: name + ".nvram",
	})
	simulator.Map.WithLock(l, func() { l.Info = info })
	l.setState(types.HttpNfcLeaseStateReady, nil)
	go l.watch()
}

// watch times the lease out when the client stops calling HttpNfcLeaseProgress.
func (l *lease) watch() {
	for {
		time.Sleep(100 * time.Millisecond)
		l.mu.Lock()
		idle := time.Since(l.lastProgress)
		l.mu.Unlock()
		if l.state() != types.HttpNfcLeaseStateReady {
			return
		}
		if idle > time.Duration(cfg.leaseTimeout)*time.Second {
			msg := "Operation timed out."
			l.setState(types.HttpNfcLeaseStateError, &types.LocalizedMethodFault{Fault: &types.Timedout{}, LocalizedMessage: msg})
			return
		}
	}
}

func (l *lease) state() types.HttpNfcLeaseState {
	var s types.HttpNfcLeaseState
	simulator.Map.WithLock(l, func() { s = l.State })
	return s
}

func (l *lease) setState(s types.HttpNfcLeaseState, fault *types.LocalizedMethodFault) {
	simulator.Map.WithLock(l, func() {
		l.State = s
		l.Error = fault
	})
	msg := ""
	if fault != nil {
		msg = fault.LocalizedMessage
	}
	record(event{Kind: "lease", Lease: l.Self.Value, State: string(s), Message: msg})
}

// deviceKey names a disk as vCenter does: /vm-id/ControllerTypeBus:Unit.
func deviceKey(vm types.ManagedObjectReference, devices []types.BaseVirtualDevice, disk *types.VirtualDisk) string {
	for _, d := range devices {
		if d.GetVirtualDevice().Key != disk.ControllerKey {
			continue
		}
		if c, ok := d.(types.BaseVirtualController); ok {
			unit := int32(0)
			if disk.UnitNumber != nil {
				unit = *disk.UnitNumber
			}
			return fmt.Sprintf("/%s/%s%d:%d", vm.Value, reflect.TypeOf(d).Elem().Name(), c.GetVirtualController().BusNumber, unit)
		}
	}
	return fmt.Sprintf("/%s/%d", vm.Value, disk.Key)
}

func (l *lease) HttpNfcLeaseProgress(ctx *simulator.Context, req *types.HttpNfcLeaseProgress) soap.HasFault {
	body := &methods.HttpNfcLeaseProgressBody{}
	if l.State != types.HttpNfcLeaseStateReady {
		body.Fault_ = simulator.Fault("The lease is not ready.", &types.InvalidState{})
		return body
	}
	l.mu.Lock()
	l.lastProgress = time.Now()
	l.mu.Unlock()
	l.TransferProgress = req.Percent
	record(event{Kind: "progress", Lease: l.Self.Value, Percent: req.Percent})
	body.Res = new(types.HttpNfcLeaseProgressResponse)
	return body
}

func (l *lease) HttpNfcLeaseComplete(ctx *simulator.Context, req *types.HttpNfcLeaseComplete) soap.HasFault {
	body := &methods.HttpNfcLeaseCompleteBody{}
	if l.State != types.HttpNfcLeaseStateReady {
		body.Fault_ = simulator.Fault("The lease is not ready.", &types.InvalidState{})
		return body
	}
	l.State = types.HttpNfcLeaseStateDone
	record(event{Kind: "complete", Lease: l.Self.Value, State: string(l.State)})
	body.Res = new(types.HttpNfcLeaseCompleteResponse)
	return body
}

func (l *lease) HttpNfcLeaseAbort(ctx *simulator.Context, req *types.HttpNfcLeaseAbort) soap.HasFault {
	body := &methods.HttpNfcLeaseAbortBody{}
	if l.State == types.HttpNfcLeaseStateDone {
		body.Fault_ = simulator.Fault("The lease is already complete.", &types.InvalidState{})
		return body
	}
	l.State = types.HttpNfcLeaseStateError
	msg := "aborted by the client"
	if req.Fault != nil {
		msg = req.Fault.LocalizedMessage
	}
	l.Error = &types.LocalizedMethodFault{Fault: &types.RequestCanceled{}, LocalizedMessage: msg}
	record(event{Kind: "abort", Lease: l.Self.Value, State: string(l.State), Message: msg})
	body.Res = new(types.HttpNfcLeaseAbortResponse)
	return body
}

func diskPath(vm string, i int) string {
	return filepath.Join(cfg.dataDir, fmt.Sprintf("%s-disk-%d.bin", vm, i))
}

func diskSize(i int) int64 { return cfg.diskSize + int64(i)*65536 }

// ensureFile writes size bytes of seeded, incompressible content (a random
// mebibyte, each copy stamped with its index) unless the file is there.
func ensureFile(path string, size, seed int64) error {
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		return nil
	}
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	for off, n := int64(0), int64(0); off < size; off, n = off+int64(len(block)), n+1 {
		binary.LittleEndian.PutUint64(block, uint64(n)^uint64(seed)<<48)
		chunk := block
		if rest := size - off; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
