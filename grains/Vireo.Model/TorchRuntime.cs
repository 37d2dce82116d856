using TorchSharp;

namespace Vireo.Model;

/// <summary>Resolves the torch device a command asked for.</summary>
public static class TorchRuntime
{
    /// <summary>Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when present, else CPU).</summary>
    public static torch.Device ResolveDevice(string name)
    {
        if (string.Equals(name, "auto", StringComparison.OrdinalIgnoreCase))
            return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        var device = new torch.Device(name);
        if (device.type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new InvalidOperationException($"Device '{name}' was requested but CUDA is not available on this machine.");
        return device;
    }

    /// <summary>
    /// The dtype a checkpoint runs in on a device: on CUDA, the half-precision dtype it was published in (bfloat16 for
    /// InternVL3.5); otherwise, and for checkpoints that name none, float32.
    /// </summary>
    public static torch.ScalarType DefaultDType(string directory, string device)
    {
        if (ResolveDevice(device).type != DeviceType.CUDA) return torch.ScalarType.Float32;
        var config = Configuration.ModelConfig.Load(Path.Combine(directory, Modules.VireoCheckpoint.ConfigFile));
        return config.TorchDType switch
        {
            "bfloat16" => torch.ScalarType.BFloat16,
            "float16" => torch.ScalarType.Float16,
            _ => torch.ScalarType.Float32,
        };
    }

    /// <summary>
    /// Moves a host tensor to <paramref name="device"/> without waiting for the device's queued work (a plain copy
    /// from pageable memory first drains the stream, which stalls training at every upload). The host tensor is
    /// disposed once handed over; on the CPU it is returned as it is.
    /// </summary>
    public static torch.Tensor Upload(torch.Tensor host, torch.Device device)
    {
        if (device.type == DeviceType.CPU) return host;
        using (host) return host.to(device, non_blocking: true);
    }
}
