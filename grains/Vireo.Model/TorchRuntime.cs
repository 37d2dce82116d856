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
}
