"""The NVML source against a stand-in for pynvml: there is no GPU or driver on the test machine, and
the stand-in also produces faults (lost GPU, unsupported counters, Xid events) no real GPU gives on cue."""

from __future__ import annotations

import types
from ctypes import Structure, c_int, pointer

import pynvml
import pytest

from oracle.agent.telemetry import GpuUnreadable, MalformedSample, SourceUnavailable
from oracle.agent.telemetry.nvml import NvmlSource


class _Device(Structure):
    _fields_ = [("id", c_int)]


def fake_nvml(gpus: int = 2, **overrides):
    """A module with pynvml's names; devices are real ctypes pointers like pynvml's handles."""
    devices = [_Device(i) for i in range(gpus)]
    state = types.SimpleNamespace(
        inited=0, shutdown=0, events=[], registered=[], lost=set(), energy_supported=True
    )

    def handle(i):
        return pointer(devices[i])

    def index_of(h):
        return h.contents.id

    def check(h):
        if index_of(h) in state.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    def utilization(h):
        check(h)
        return types.SimpleNamespace(gpu=[97, 12][index_of(h) % 2], memory=40)

    def energy(h):
        if not state.energy_supported:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return 5_000_000_000 + index_of(h)

    def wait(event_set, timeout_ms):
        if not state.events:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)
        i, xid = state.events.pop(0)
        return types.SimpleNamespace(
            device=handle(i), eventData=xid, eventType=pynvml.nvmlEventTypeXidCriticalError
        )

    module = types.SimpleNamespace(
        NVMLError=pynvml.NVMLError,
        NVMLError_Timeout=pynvml.NVMLError_Timeout,
        NVML_CLOCK_SM=pynvml.NVML_CLOCK_SM,
        NVML_TEMPERATURE_GPU=pynvml.NVML_TEMPERATURE_GPU,
        NVML_MEMORY_ERROR_TYPE_UNCORRECTED=pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
        NVML_VOLATILE_ECC=pynvml.NVML_VOLATILE_ECC,
        nvmlEventTypeXidCriticalError=pynvml.nvmlEventTypeXidCriticalError,
        nvmlInit=lambda: setattr(state, "inited", state.inited + 1),
        nvmlShutdown=lambda: setattr(state, "shutdown", state.shutdown + 1),
        nvmlDeviceGetCount=lambda: gpus,
        nvmlDeviceGetHandleByIndex=handle,
        nvmlDeviceGetUUID=lambda h: f"GPU-0000000{index_of(h)}-aaaa-bbbb-cccc-dddddddddddd".encode(),
        nvmlDeviceGetName=lambda h: b"NVIDIA H100 80GB HBM3",
        nvmlDeviceGetUtilizationRates=utilization,
        nvmlDeviceGetPowerUsage=lambda h: 612_457,  # mW
        nvmlDeviceGetTotalEnergyConsumption=energy,
        nvmlDeviceGetClockInfo=lambda h, clock: 1980,
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(
            total=80 * 2**30, used=60 * 2**30, free=20 * 2**30
        ),
        nvmlDeviceGetTemperature=lambda h, sensor: 64,
        nvmlDeviceGetTotalEccErrors=lambda h, kind, counter: 0,
        nvmlDeviceGetCurrentClocksEventReasons=lambda h: 0x4,
        nvmlEventSetCreate=lambda: "event-set",
        nvmlDeviceRegisterEvents=lambda h, kinds, es: state.registered.append(index_of(h)),
        nvmlEventSetWait_v2=wait,
        nvmlEventSetFree=lambda es: None,
    )
    for name, value in overrides.items():
        setattr(module, name, value)
    module.state = state
    return module


def CLOCK() -> float:
    return 1_700_000_000.0


def test_reads_every_gpu_with_units_converted():
    nvml = fake_nvml()
    source = NvmlSource(nvml, clock=CLOCK)
    assert [g.uuid for g in source.gpus()] == [
        "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd",
        "GPU-00000001-aaaa-bbbb-cccc-dddddddddddd",
    ]
    assert source.gpus()[0].model == "NVIDIA H100 80GB HBM3"
    reading = source.read()
    assert not reading.errors
    s = reading.samples[0]
    assert s.power_w == pytest.approx(612.457)
    assert (s.utilization_pct, s.sm_clock_mhz, s.temperature_c) == (97, 1980, 64)
    assert s.memory_used_bytes == 60 * 2**30 and s.energy_mj == 5_000_000_000
    assert s.sm_active_pct is None  # NVML has no SM activity
    assert s.ecc_dbe_errors == 0 and s.throttle_reasons == 0x4
    assert s.xid_count == 0 and s.last_xid == 0 and s.timestamp == CLOCK()
    assert nvml.state.registered == [0, 1]
    source.close()
    assert nvml.state.shutdown == 1


def test_xid_events_are_counted_per_gpu():
    nvml = fake_nvml()
    source = NvmlSource(nvml, clock=CLOCK)
    nvml.state.events += [(1, 79), (1, 48)]
    samples = source.read().samples
    assert (samples[0].xid_count, samples[1].xid_count, samples[1].last_xid) == (0, 2, 48)


def test_unsupported_counters_are_none_not_zero():
    nvml = fake_nvml(
        nvmlEventSetCreate=lambda: (_ for _ in ()).throw(pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED))
    )
    nvml.state.energy_supported = False
    s = NvmlSource(nvml, clock=CLOCK).read().samples[0]
    assert s.energy_mj is None and s.xid_count is None and s.last_xid is None


def test_a_lost_gpu_is_an_error_and_the_others_still_read():
    nvml = fake_nvml()
    source = NvmlSource(nvml, clock=CLOCK)
    nvml.state.lost.add(0)
    reading = source.read()
    assert [s.index for s in reading.samples] == [1]
    assert isinstance(reading.errors[0], GpuUnreadable) and "NVML" in reading.errors[0].reason
    nvml.state.lost.add(1)
    reading = source.read()
    assert not reading.samples and len(reading.errors) == 2


def test_an_impossible_value_is_a_malformed_sample_naming_the_field():
    nvml = fake_nvml(nvmlDeviceGetTemperature=lambda h, sensor: 4000 if h.contents.id == 0 else 60)
    reading = NvmlSource(nvml, clock=CLOCK).read()
    assert [s.index for s in reading.samples] == [1]
    assert isinstance(reading.errors[0], MalformedSample) and "temperature_c" in str(reading.errors[0])


def test_a_value_of_the_wrong_kind_is_a_malformed_sample():
    nvml = fake_nvml(gpus=1, nvmlDeviceGetMemoryInfo=lambda h: None)
    reading = NvmlSource(nvml, clock=CLOCK).read()
    assert isinstance(reading.errors[0], MalformedSample)


def test_nvml_that_will_not_start_is_source_unavailable():
    def broken():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)

    with pytest.raises(SourceUnavailable, match="did not initialise"):
        NvmlSource(fake_nvml(nvmlInit=broken))


def test_real_pynvml_without_a_driver_is_source_unavailable():
    """On this machine there is no NVIDIA driver: the real library must fail cleanly, not crash."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        with pytest.raises(SourceUnavailable):
            NvmlSource()
    else:  # pragma: no cover - a machine with a GPU
        pynvml.nvmlShutdown()
        source = NvmlSource()
        assert source.read().samples
        source.close()
