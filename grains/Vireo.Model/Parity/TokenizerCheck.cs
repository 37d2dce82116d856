using Vireo.Model.Text;

namespace Vireo.Model.Parity;

/// <summary>Compares Qwen3's tokenizer as Vireo reads it with Hugging Face tokenizers' ids for a fixed set of strings.</summary>
public static class TokenizerCheck
{
    public const string ReferenceFile = "tokenizer_reference.json";

    /// <summary>Strings whose ids differ from the reference's.</summary>
    public static int Mismatches(ITextTokenizer tokenizer, ReferenceCheck.TokenizerReference reference) =>
        reference.Strings.Zip(reference.Ids).Count(p => !tokenizer.Encode(p.First).SequenceEqual(p.Second));

    /// <summary>
    /// Mismatches of the tokenizer in <paramref name="tokenizerDirectory"/> (default: the checkpoint's) against
    /// <paramref name="referencePath"/> (default: tokenizer_reference.json in the checkpoint directory or its parent),
    /// or null when either is missing.
    /// </summary>
    public static int? Mismatches(string directory, string? referencePath = null, string? tokenizerDirectory = null)
    {
        referencePath ??= new[] { Path.Combine(directory, ReferenceFile), Path.Combine(Path.GetDirectoryName(directory) ?? directory, ReferenceFile) }
            .FirstOrDefault(File.Exists);
        tokenizerDirectory ??= directory;
        if (referencePath is null || !File.Exists(referencePath) || !Qwen3Tokenizer.Exists(tokenizerDirectory)) return null;
        return Mismatches(Qwen3Tokenizer.Load(tokenizerDirectory), ReferenceCheck.ReadTokenizerReference(referencePath));
    }
}
