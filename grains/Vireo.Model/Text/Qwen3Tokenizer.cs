using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Vireo.Model.Text;

/// <summary>
/// Qwen3's byte-level BPE, read from a Hugging Face <c>tokenizer.json</c> (vocabulary, merges, the pre-tokenizer's
/// split pattern, NFC normalisation, added tokens) and <c>tokenizer_config.json</c> (the end-of-turn token), on
/// Microsoft.ML.Tokenizers. InternVL's image and box tokens are added after Qwen3's own when the file lacks them, in
/// InternVL's order, so <c>&lt;IMG_CONTEXT&gt;</c> is 151671 as in InternVL3.5. Every added token is matched before
/// the text is split, as Hugging Face tokenizers match them.
/// </summary>
public sealed class Qwen3Tokenizer : ITextTokenizer
{
    public const string TokenizerFile = "tokenizer.json";
    public const string ConfigFile = "tokenizer_config.json";

    /// <summary>The tokens InternVL adds to its language model's vocabulary, in order.</summary>
    public static readonly IReadOnlyList<string> InternVlTokens = ["<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>"];

    private readonly BpeTokenizer _bpe;
    private readonly HashSet<int> _added;

    private Qwen3Tokenizer(BpeTokenizer bpe, IReadOnlyDictionary<string, int> added, string endOfTurn)
    {
        _bpe = bpe;
        _added = [.. added.Values];
        int Id(string token) => added.TryGetValue(token, out var id) ? id : throw new InvalidDataException($"The tokenizer has no {token} token.");
        EndOfTurn = Id(endOfTurn);
        ImageStart = Id("<img>");
        ImageEnd = Id("</img>");
        ImageContext = Id("<IMG_CONTEXT>");
        AddedTokens = added;
    }

    public int EndOfTurn { get; }
    public int ImageStart { get; }
    public int ImageEnd { get; }
    public int ImageContext { get; }

    /// <summary>Added (special) tokens by text.</summary>
    public IReadOnlyDictionary<string, int> AddedTokens { get; }

    /// <summary>Whether a directory holds a tokenizer.json.</summary>
    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, TokenizerFile));

    /// <summary>Reads tokenizer.json and, when present, tokenizer_config.json from a directory.</summary>
    public static Qwen3Tokenizer Load(string directory)
    {
        var path = Path.Combine(directory, TokenizerFile);
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = json.RootElement;
        var model = root.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE") throw new InvalidDataException($"{path}: only a BPE model is supported.");
        var vocabulary = model.GetProperty("vocab").EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
        var merges = model.GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Array ? m[0].GetString() + " " + m[1].GetString() : m.GetString()!).ToList();
        var added = root.GetProperty("added_tokens").EnumerateArray()
            .ToDictionary(a => a.GetProperty("content").GetString()!, a => a.GetProperty("id").GetInt32(), StringComparer.Ordinal);
        var next = Math.Max(added.Count == 0 ? 0 : added.Values.Max() + 1, vocabulary.Max(v => v.Value) + 1);
        foreach (var token in InternVlTokens)
            if (!added.ContainsKey(token)) added[token] = next++;
        var pattern = SplitPattern(root.GetProperty("pre_tokenizer"))
            ?? throw new InvalidDataException($"{path}: no Split pre-tokenizer with a regex.");
        var normalizer = root.TryGetProperty("normalizer", out var n) && n.ValueKind == JsonValueKind.Object && n.GetProperty("type").GetString() == "NFC"
            ? new NfcNormalizer()
            : null;
        // With invariant globalization .NET leaves non-ASCII text unnormalised, and ids would silently differ.
        if (normalizer is not null && "e\u0301".Normalize(NormalizationForm.FormC) != "\u00e9")
            throw new PlatformNotSupportedException("Qwen3's tokenizer needs NFC normalisation, which this process lacks: run it with ICU (InvariantGlobalization=false, libicu installed).");
        var bpe = BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            SpecialTokens = added,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), added),
            Normalizer = normalizer,
        });
        var endOfTurn = "<|im_end|>";
        var configPath = Path.Combine(directory, ConfigFile);
        if (File.Exists(configPath))
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
            if (config.RootElement.TryGetProperty("eos_token", out var eos))
                endOfTurn = eos.ValueKind == JsonValueKind.String ? eos.GetString()! : eos.GetProperty("content").GetString()!;
        }
        return new Qwen3Tokenizer(bpe, added, endOfTurn);
    }

    public IReadOnlyList<int> Encode(string text) => _bpe.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids) => _bpe.Decode(ids.Where(id => !_added.Contains(id)));

    private static string? SplitPattern(JsonElement pre)
    {
        if (pre.GetProperty("type").GetString() == "Split" && pre.GetProperty("pattern").TryGetProperty("Regex", out var regex))
            return regex.GetString();
        if (pre.TryGetProperty("pretokenizers", out var list))
            foreach (var p in list.EnumerateArray())
                if (SplitPattern(p) is { } found) return found;
        return null;
    }

    private sealed class NfcNormalizer : Normalizer
    {
        public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);

        public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(NormalizationForm.FormC);
    }
}
