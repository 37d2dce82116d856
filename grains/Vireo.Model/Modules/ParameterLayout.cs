using System.Text.RegularExpressions;

namespace Vireo.Model.Modules;

/// <summary>Which names a checkpoint's tensors carry.</summary>
public enum CheckpointLayout
{
    /// <summary>InternVL's remote-code names (<c>vision_model.…</c>, <c>mlp1.…</c>, <c>language_model.model.…</c>): Vireo's own.</summary>
    RemoteCode,

    /// <summary>transformers' native InternVL names (<c>model.vision_tower.…</c>, <c>model.multi_modal_projector.…</c>, <c>lm_head</c>).</summary>
    Native,
}

/// <summary>
/// Maps a checkpoint's tensor names onto the model's (InternVL's remote-code names). A native tensor that the remote
/// code keeps packed (the vision encoder's q/k/v, the router pooling's query/key/value) is one of several parts,
/// concatenated along the first dimension in order.
/// </summary>
public static partial class ParameterLayout
{
    /// <summary>The layout of a set of tensor names: native when any carries transformers' prefixes.</summary>
    public static CheckpointLayout Detect(IEnumerable<string> names) =>
        names.Any(n => n.StartsWith("model.", StringComparison.Ordinal) || n == "lm_head.weight")
            ? CheckpointLayout.Native
            : CheckpointLayout.RemoteCode;

    /// <summary>
    /// For each model name the file tensors that make it, in concatenation order; names that map to nothing are
    /// returned in <paramref name="unmapped"/>.
    /// </summary>
    public static Dictionary<string, List<string>> Map(IEnumerable<string> fileNames, out List<string> unmapped)
    {
        var names = fileNames.ToList();
        var layout = Detect(names);
        var result = new Dictionary<string, List<(int Part, string File)>>(StringComparer.Ordinal);
        unmapped = [];
        foreach (var file in names)
        {
            var (name, part) = layout == CheckpointLayout.RemoteCode ? (file, 0) : FromNative(file);
            if (name is null)
            {
                unmapped.Add(file);
                continue;
            }
            if (!result.TryGetValue(name, out var parts)) result[name] = parts = [];
            parts.Add((part, file));
        }
        return result.ToDictionary(p => p.Key, p => p.Value.OrderBy(x => x.Part).Select(x => x.File).ToList(), StringComparer.Ordinal);
    }

    /// <summary>The remote-code name of one native tensor and its part index, or null when it has none.</summary>
    public static (string? Name, int Part) FromNative(string name)
    {
        if (name == "lm_head.weight") return ("language_model.lm_head.weight", 0);
        if (name.StartsWith("model.language_model.", StringComparison.Ordinal))
            return ("language_model.model." + name["model.language_model.".Length..], 0);

        if (name.StartsWith("model.vision_tower.", StringComparison.Ordinal))
        {
            var rest = name["model.vision_tower.".Length..];
            switch (rest)
            {
                case "embeddings.cls_token": return ("vision_model.embeddings.class_embedding", 0);
                case "embeddings.position_embeddings": return ("vision_model.embeddings.position_embedding", 0);
            }
            if (rest.StartsWith("embeddings.patch_embeddings.projection.", StringComparison.Ordinal))
                return ("vision_model.embeddings.patch_embedding." + rest["embeddings.patch_embeddings.projection.".Length..], 0);
            var layer = VisionLayer().Match(rest);
            if (!layer.Success) return (null, 0);
            var prefix = $"vision_model.encoder.layers.{layer.Groups[1].Value}.";
            var tail = layer.Groups[2].Value;
            var qkv = Qkv().Match(tail);
            if (qkv.Success) return (prefix + "attn.qkv." + qkv.Groups[2].Value, PartOf(qkv.Groups[1].Value));
            return tail switch
            {
                "lambda_1" => (prefix + "ls1", 0),
                "lambda_2" => (prefix + "ls2", 0),
                _ when tail.StartsWith("attention.projection_layer.", StringComparison.Ordinal) => (prefix + "attn.proj." + tail["attention.projection_layer.".Length..], 0),
                _ when tail.StartsWith("layernorm_before.", StringComparison.Ordinal) => (prefix + "norm1." + tail["layernorm_before.".Length..], 0),
                _ when tail.StartsWith("layernorm_after.", StringComparison.Ordinal) => (prefix + "norm2." + tail["layernorm_after.".Length..], 0),
                _ when tail.StartsWith("mlp.fc1.", StringComparison.Ordinal) || tail.StartsWith("mlp.fc2.", StringComparison.Ordinal) => (prefix + tail, 0),
                _ => (null, 0),
            };
        }

        var sequential = NativeSequential().Match(name);
        if (sequential.Success)
        {
            var index = (sequential.Groups[1].Value, sequential.Groups[2].Value) switch
            {
                ("multi_modal_projector", "layer_norm") => "mlp1.0",
                ("multi_modal_projector", "linear_1") => "mlp1.1",
                ("multi_modal_projector", "linear_2") => "mlp1.3",
                ("mlp2", "norm") => "mlp2.0",
                ("mlp2", "dense1") => "mlp2.1",
                ("mlp2", "dense2") => "mlp2.4",
                ("mlp2", "dense3") => "mlp2.7",
                _ => null,
            };
            return index is null ? (null, 0) : ($"{index}.{sequential.Groups[3].Value}", 0);
        }

        if (name.StartsWith("model.pooling_before_gating.", StringComparison.Ordinal))
        {
            var rest = name["model.pooling_before_gating.".Length..];
            var packed = PoolingProjection().Match(rest);
            if (packed.Success)
                return ($"pooling_before_gating.{packed.Groups[1].Value}.in_proj_{packed.Groups[3].Value}", PartOf(packed.Groups[2].Value));
            return ("pooling_before_gating." + rest, 0);
        }

        if (name.StartsWith("model.gating.", StringComparison.Ordinal))
        {
            var rest = name["model.gating.".Length..];
            var block = GatingBlock().Match(rest);
            if (block.Success)
            {
                var index = block.Groups[2].Value switch { "dense_in" => "0", "dense_out" => "3", _ => "5" };
                return ($"gating.{block.Groups[1].Value}.{index}.{block.Groups[3].Value}", 0);
            }
            if (rest.StartsWith("gate_norm.", StringComparison.Ordinal)) return ("gating.gate.0." + rest["gate_norm.".Length..], 0);
            if (rest.StartsWith("gate_proj.", StringComparison.Ordinal)) return ("gating.gate.1." + rest["gate_proj.".Length..], 0);
        }
        return (null, 0);
    }

    private static int PartOf(string projection) => projection switch
    {
        "q_proj" or "query" => 0,
        "k_proj" or "key" => 1,
        _ => 2,
    };

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.(.+)$")]
    private static partial Regex VisionLayer();

    [GeneratedRegex(@"^attention\.(q_proj|k_proj|v_proj)\.(weight|bias)$")]
    private static partial Regex Qkv();

    [GeneratedRegex(@"^model\.(multi_modal_projector|mlp2)\.(\w+)\.(weight|bias)$")]
    private static partial Regex NativeSequential();

    [GeneratedRegex(@"^(attn\d)\.(query|key|value)\.(weight|bias)$")]
    private static partial Regex PoolingProjection();

    [GeneratedRegex(@"^(block\d)\.(dense_in|dense_out|norm)\.(weight|bias)$")]
    private static partial Regex GatingBlock();
}
