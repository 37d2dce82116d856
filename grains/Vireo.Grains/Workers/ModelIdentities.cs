using Vireo.Model;
using Vireo.Model.Configuration;
using Vireo.Model.Modules;

namespace Vireo.Grains.Workers;

/// <summary>Names the model a silo loaded, for the results it computes: checkpoint, kind, dtype and device.</summary>
public static class ModelIdentities
{
    /// <summary>The identity of the checkpoint in <paramref name="modelPath"/> as it runs on <paramref name="device"/> ("auto", "cpu", "cuda[:N]").</summary>
    public static ModelIdentity Of(string modelPath, string device)
    {
        var config = ModelConfig.Load(Path.Combine(modelPath, VireoCheckpoint.ConfigFile));
        var resolved = TorchRuntime.ResolveDevice(device);
        var router = config.RouterConfig.Kind switch
        {
            RouterKind.None => "no router",
            var kind => $"{kind.ToString().ToLowerInvariant()} router",
        };
        var deviceName = resolved.type.ToString().ToLowerInvariant() + (resolved.index >= 0 && resolved.type != TorchSharp.DeviceType.CPU ? $":{resolved.index}" : "");
        return new ModelIdentity(
            Bounded(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelPath)))),
            Bounded($"{config.Template}, {router}"),
            TorchRuntime.DefaultDType(modelPath, device).ToString().ToLowerInvariant(),
            deviceName);
    }

    private static string Bounded(string text) => text.Length <= ModelIdentity.MaxLength ? text : text[..ModelIdentity.MaxLength];
}
