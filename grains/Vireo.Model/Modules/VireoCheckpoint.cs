using TorchSharp;
using TorchSharp.PyBridge;
using Vireo.Model.Configuration;
using static TorchSharp.torch;

namespace Vireo.Model.Modules;

/// <summary>A checkpoint whose tensors do not match the model built from its config.json.</summary>
public sealed class CheckpointMismatchException(string path, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> misshaped)
    : Exception(Describe(path, missing, unexpected, misshaped))
{
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    public IReadOnlyList<string> Misshaped { get; } = misshaped;

    private static string Describe(string path, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> misshaped)
    {
        static string List(string title, IReadOnlyList<string> items) =>
            items.Count == 0 ? "" : $"\n  {title} ({items.Count}): {string.Join(", ", items.Take(12))}{(items.Count > 12 ? ", …" : "")}";
        return $"Checkpoint {path} does not match the model its config describes." +
               List("missing", missing) + List("unexpected", unexpected) + List("wrong shape", misshaped);
    }
}

/// <summary>Reads and writes a model directory: <c>model.safetensors</c> + <c>config.json</c>.</summary>
public static class VireoCheckpoint
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";

    /// <summary>Writes weights (as <paramref name="storage"/>, e.g. Float16 to halve the size) and config.</summary>
    public static void Save(VireoModel model, string directory, ScalarType storage = ScalarType.Float32)
    {
        Directory.CreateDirectory(directory);
        SaveWeights(model, Path.Combine(directory, WeightsFile), storage);
        model.Config.Save(Path.Combine(directory, ConfigFile));
    }

    /// <summary>Writes a module's state as safetensors, atomically (a crash leaves the previous file).</summary>
    public static void SaveWeights(nn.Module module, string path, ScalarType storage = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, tensor) in module.state_dict())
            dict[name] = tensor.detach().to(CPU).to(storage).contiguous();
        var tmp = path + ".tmp";
        Safetensors.SaveStateDict(tmp, dict);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Builds the model its config.json describes and loads its weights, converting them to float32.</summary>
    /// <exception cref="CheckpointMismatchException">Names or shapes differ from the model.</exception>
    public static VireoModel Load(string directory, Device? device = null)
    {
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFile));
        var model = new VireoModel(config);
        LoadWeights(model, Path.Combine(directory, WeightsFile));
        if (device is not null) model.to(device);
        model.eval();
        return model;
    }

    /// <summary>Loads a safetensors file into an existing module after checking every name and shape.</summary>
    /// <param name="model">The module to fill.</param>
    /// <param name="path">The safetensors file.</param>
    /// <param name="prefix">Only the file's tensors under this prefix, with the prefix removed (a submodule's part of a whole checkpoint).</param>
    public static void LoadWeights(nn.Module model, string path, string prefix = "")
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No weights at {path}.", path);
        var all = Safetensors.LoadStateDict(path);
        var loaded = all.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(p => p.Key[prefix.Length..], p => p.Value);
        foreach (var (name, tensor) in all)
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) tensor.Dispose();
        try
        {
            var expected = model.state_dict();
            var missing = expected.Keys.Where(k => !loaded.ContainsKey(k)).Order().ToList();
            var unexpected = loaded.Keys.Where(k => !expected.ContainsKey(k)).Order().ToList();
            var misshaped = expected.Keys.Where(loaded.ContainsKey)
                .Where(k => !expected[k].shape.SequenceEqual(loaded[k].shape))
                .Select(k => $"{k} (model [{string.Join(",", expected[k].shape)}], file [{string.Join(",", loaded[k].shape)}])")
                .Order().ToList();
            if (missing.Count + unexpected.Count + misshaped.Count > 0)
                throw new CheckpointMismatchException(path, missing, unexpected, misshaped);
            using var _ = no_grad();
            foreach (var (name, target) in expected)
                target.copy_(loaded[name].to(target.dtype).to(target.device));
        }
        finally
        {
            foreach (var t in loaded.Values) t.Dispose();
        }
    }
}
