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

/// <summary>
/// Reads and writes a model directory in InternVL's Hugging Face format: <c>config.json</c>, and <c>model.safetensors</c>
/// or shards listed by <c>model.safetensors.index.json</c>, with either InternVL's remote-code parameter names or
/// transformers' native ones, in float32, float16 or bfloat16.
/// </summary>
public static class VireoCheckpoint
{
    public const string WeightsFile = SafetensorsArchive.SingleFile;
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

    /// <summary>
    /// Builds the model its config.json describes and loads its weights, converted to <paramref name="dtype"/>
    /// (float32 unless given), tensor by tensor onto <paramref name="device"/>.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Names or shapes differ from the model.</exception>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="device">Where the weights go (the CPU when null).</param>
    /// <param name="dtype">The dtype the model runs in (float32 when null).</param>
    /// <param name="tokenizerDirectory">Where Qwen3's tokenizer.json is, when not in the checkpoint directory.</param>
    public static VireoModel Load(string directory, Device? device = null, ScalarType? dtype = null, string? tokenizerDirectory = null) =>
        LoadPart(directory, config => new VireoModel(config, TokenizerFor(config, directory, tokenizerDirectory)), [""], device, dtype);

    /// <summary>
    /// Builds the vision side (<c>vision_model</c>, <c>mlp1</c>, and for routed checkpoints <c>mlp2</c> and the router)
    /// and reads only its tensors.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Names or shapes within the vision side differ from the model.</exception>
    public static VisionTower LoadVision(string directory, Device? device = null, ScalarType? dtype = null) =>
        LoadPart(directory, config => new VisionTower(config), VisionTower.CheckpointPrefixes, device, dtype);

    /// <summary>Builds the language side (<c>language_model</c> and the tokenizer) and reads only its tensors.</summary>
    /// <exception cref="CheckpointMismatchException">Names or shapes within the language side differ from the model.</exception>
    public static LanguageTower LoadLanguage(string directory, Device? device = null, ScalarType? dtype = null, string? tokenizerDirectory = null) =>
        LoadPart(directory, config => new LanguageTower(config, TokenizerFor(config, directory, tokenizerDirectory)), LanguageTower.CheckpointPrefixes, device, dtype);

    /// <summary>Qwen3's tokenizer for a checkpoint with InternVL's template, from the tokenizer directory or the checkpoint's; null for the small template.</summary>
    private static Text.ITextTokenizer? TokenizerFor(ModelConfig config, string directory, string? tokenizerDirectory)
    {
        if (config.Template == ModelConfig.SmallTemplate) return null;
        var from = tokenizerDirectory ?? directory;
        return Text.Qwen3Tokenizer.Exists(from) ? Text.Qwen3Tokenizer.Load(from) : null;
    }

    private static readonly Lock BuildLock = new();

    private static T LoadPart<T>(string directory, Func<ModelConfig, T> build, IReadOnlyList<string> prefixes, Device? device, ScalarType? dtype) where T : nn.Module
    {
        NativeHeap.KeepFreedMemory();
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFile));
        var part = BuildIn(dtype ?? ScalarType.Float32, () => build(config));
        try
        {
            if (dtype is { } type && type != ScalarType.Float32) part.to(type);
            if (device is not null) part.to(device);
            using var archive = SafetensorsArchive.Open(directory);
            LoadMatching(part, archive, directory, name => prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) ? name : null);
        }
        catch
        {
            part.Dispose();
            throw;
        }
        part.eval();
        return part;
    }

    /// <summary>
    /// Builds a module with its parameters created in <paramref name="dtype"/>, so that a bfloat16 checkpoint never needs
    /// a float32 copy of the model in host memory. Torch's default dtype is process-wide: every build, float32 ones too,
    /// takes its turn and sets it, so a float32 model built while a bfloat16 one is built never gets bfloat16 parameters;
    /// it is restored after each.
    /// </summary>
    public static T BuildIn<T>(ScalarType dtype, Func<T> build)
    {
        lock (BuildLock)
        {
            var previous = get_default_dtype();
            set_default_dtype(dtype);
            try
            {
                return build();
            }
            finally
            {
                set_default_dtype(previous);
            }
        }
    }

    /// <summary>Loads a safetensors file into an existing module after checking every name and shape.</summary>
    /// <param name="model">The module to fill.</param>
    /// <param name="path">The safetensors file.</param>
    /// <param name="prefix">Only the file's tensors under this prefix, with the prefix removed (a submodule's part of a whole checkpoint).</param>
    public static void LoadWeights(nn.Module model, string path, string prefix = "")
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No weights at {path}.", path);
        using var archive = SafetensorsArchive.OpenFile(path);
        LoadMatching(model, archive, path, name => name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : null);
    }

    /// <summary>
    /// Loads the file's tensors under any of <paramref name="prefixes"/>, names kept, into a module that holds that
    /// part of the model; tensors elsewhere in the file are not read.
    /// </summary>
    public static void LoadWeights(nn.Module part, string path, IReadOnlyList<string> prefixes)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No weights at {path}.", path);
        using var archive = SafetensorsArchive.OpenFile(path);
        LoadMatching(part, archive, path, name => prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) ? name : null);
    }

    /// <summary>
    /// Maps the archive's tensors to the model's names (either layout), keeps those <paramref name="nameInModule"/> maps
    /// to a name, checks every name and shape, and only then copies them in, one tensor at a time.
    /// </summary>
    /// <param name="model">The module to fill.</param>
    /// <param name="archive">The checkpoint's tensors.</param>
    /// <param name="source">The checkpoint's path, for messages.</param>
    /// <param name="nameInModule">The module's name for a checkpoint tensor (in remote-code names), or null when it is not to be read.</param>
    private static void LoadMatching(nn.Module model, SafetensorsArchive archive, string source, Func<string, string?> nameInModule)
    {
        var mapped = ParameterLayout.Map(archive.Entries.Keys, out var unmapped);
        var loaded = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, files) in mapped)
            if (nameInModule(name) is { } inModule) loaded[inModule] = files;
        var expected = model.state_dict();
        // A tied model has no output projection of its own; a checkpoint may still carry one (equal to the embeddings).
        var optional = new HashSet<string>(StringComparer.Ordinal);
        if (model.named_modules().Select(m => m.module).Append(model).OfType<Qwen3LanguageModel>().Any(lm => lm.Config.TieWordEmbeddings))
            optional.Add(nameInModule(Qwen3LanguageModel.LmHeadName) ?? Qwen3LanguageModel.LmHeadName);
        var missing = expected.Keys.Where(k => !loaded.ContainsKey(k)).Order().ToList();
        var unexpected = loaded.Keys.Where(k => !expected.ContainsKey(k) && !optional.Contains(k))
            .Concat(unmapped).Order().ToList();
        var misshaped = expected.Keys.Where(loaded.ContainsKey)
            .Select(k => (k, shape: ShapeOf(archive, loaded[k])))
            .Where(p => p.shape is null || !expected[p.k].shape.SequenceEqual(p.shape))
            .Select(p => $"{p.k} (model [{string.Join(",", expected[p.k].shape)}], file [{(p.shape is null ? "parts disagree" : string.Join(",", p.shape))}])")
            .Order().ToList();
        if (missing.Count + unexpected.Count + misshaped.Count > 0)
            throw new CheckpointMismatchException(source, missing, unexpected, misshaped);
        using var _ = no_grad();
        foreach (var (name, target) in expected)
        {
            using var scope = NewDisposeScope();
            var parts = loaded[name].Select(archive.Read).ToList();
            var value = parts.Count == 1 ? parts[0] : cat(parts, 0);
            target.copy_(value);
        }
    }

    /// <summary>The shape of a tensor made of parts concatenated along the first dimension, or null when they cannot be.</summary>
    private static long[]? ShapeOf(SafetensorsArchive archive, IReadOnlyList<string> parts)
    {
        var first = archive.Entries[parts[0]].Shape;
        if (parts.Count == 1) return first;
        var shapes = parts.Select(p => archive.Entries[p].Shape).ToList();
        if (shapes.Any(s => s.Length == 0 || s.Length != first.Length || !s.Skip(1).SequenceEqual(first.Skip(1)))) return null;
        return [shapes.Sum(s => s[0]), .. first.Skip(1)];
    }

    /// <summary>The tensor names of a safetensors file, from its header alone.</summary>
    public static IReadOnlyList<string> TensorNames(string path) => SafetensorsArchive.TensorNames(path);
}
