using System.Buffers.Binary;
using System.Text.Json;
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
    public static VireoModel Load(string directory, Device? device = null) =>
        LoadPart(directory, config => new VireoModel(config), [""], device);

    /// <summary>
    /// Builds the vision side (<c>vision_model</c>, <c>mlp1</c>, <c>mlp2</c>, <c>vir</c>) and reads only its tensors.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Names or shapes within the vision side differ from the model.</exception>
    public static VisionTower LoadVision(string directory, Device? device = null) =>
        LoadPart(directory, config => new VisionTower(config), VisionTower.CheckpointPrefixes, device);

    /// <summary>Builds the language side (<c>language_model</c> and the tokenizer) and reads only its tensors.</summary>
    /// <exception cref="CheckpointMismatchException">Names or shapes within the language side differ from the model.</exception>
    public static LanguageTower LoadLanguage(string directory, Device? device = null) =>
        LoadPart(directory, config => new LanguageTower(config), LanguageTower.CheckpointPrefixes, device);

    private static T LoadPart<T>(string directory, Func<ModelConfig, T> build, IReadOnlyList<string> prefixes, Device? device) where T : nn.Module
    {
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFile));
        var part = build(config);
        LoadWeights(part, Path.Combine(directory, WeightsFile), prefixes);
        if (device is not null) part.to(device);
        part.eval();
        return part;
    }

    /// <summary>Loads a safetensors file into an existing module after checking every name and shape.</summary>
    /// <param name="model">The module to fill.</param>
    /// <param name="path">The safetensors file.</param>
    /// <param name="prefix">Only the file's tensors under this prefix, with the prefix removed (a submodule's part of a whole checkpoint).</param>
    public static void LoadWeights(nn.Module model, string path, string prefix = "") =>
        LoadMatching(model, path, name => name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : null);

    /// <summary>
    /// Loads the file's tensors under any of <paramref name="prefixes"/>, names kept, into a module that holds that
    /// part of the model; tensors elsewhere in the file are not read.
    /// </summary>
    public static void LoadWeights(nn.Module part, string path, IReadOnlyList<string> prefixes) =>
        LoadMatching(part, path, name => prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) ? name : null);

    /// <summary>Reads the file tensors <paramref name="nameInModule"/> maps to a name, and fills the module after checking them all.</summary>
    /// <param name="model">The module to fill.</param>
    /// <param name="path">The safetensors file.</param>
    /// <param name="nameInModule">The module's name for a file tensor, or null when the tensor is not to be read.</param>
    private static void LoadMatching(nn.Module model, string path, Func<string, string?> nameInModule)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No weights at {path}.", path);
        var names = TensorNames(path);
        var wanted = names.Where(n => nameInModule(n) is not null).ToList();
        // A key list costs the reader a lookup per tensor; when every tensor is wanted, it is left out.
        var loaded = wanted.Count == 0
            ? []
            : Safetensors.LoadStateDict(path, wanted.Count == names.Count ? null : wanted).ToDictionary(p => nameInModule(p.Key)!, p => p.Value);
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

    /// <summary>The tensor names of a safetensors file, from its header alone.</summary>
    public static IReadOnlyList<string> TensorNames(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> size = stackalloc byte[8];
        file.ReadExactly(size);
        var length = BinaryPrimitives.ReadUInt64LittleEndian(size);
        if (length > int.MaxValue || (long)length > file.Length - 8) throw new InvalidDataException($"{path} is not a safetensors file.");
        var header = new byte[(int)length];
        file.ReadExactly(header);
        using var json = JsonDocument.Parse(header);
        return json.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__").ToList();
    }
}
