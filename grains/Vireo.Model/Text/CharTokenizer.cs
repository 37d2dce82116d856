using System.Text;

namespace Vireo.Model.Text;

/// <summary>
/// A character-level tokenizer: six special tokens (pad, bos, eos, &lt;img&gt;, &lt;/img&gt;, &lt;IMG_CONTEXT&gt;)
/// followed by one id per character. Unknown characters are dropped when encoding.
/// </summary>
public sealed class CharTokenizer : ITextTokenizer
{
    public const int Pad = 0;
    public const int Bos = 1;
    public const int Eos = 2;
    public const int ImageStart = 3;
    public const int ImageEnd = 4;
    public const int ImageContext = 5;
    public const int SpecialCount = 6;

    /// <summary>The characters the synthetic tasks need.</summary>
    public const string DefaultCharacters = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:-|?\n";

    private static readonly string[] SpecialNames = ["<pad>", "<s>", "</s>", "<img>", "</img>", "<IMG_CONTEXT>"];

    private readonly string _characters;
    private readonly Dictionary<char, int> _ids;

    public CharTokenizer(string characters)
    {
        _characters = characters;
        _ids = characters.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i + SpecialCount);
    }

    public int VocabularySize => SpecialCount + _characters.Length;

    int ITextTokenizer.EndOfTurn => Eos;
    int ITextTokenizer.ImageStart => ImageStart;
    int ITextTokenizer.ImageEnd => ImageEnd;
    int ITextTokenizer.ImageContext => ImageContext;

    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (var c in text)
            if (_ids.TryGetValue(c, out var id)) ids.Add(id);
        return ids;
    }

    /// <summary>Decodes ids to text, skipping special tokens.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (var id in ids)
            if (id >= SpecialCount && id - SpecialCount < _characters.Length) sb.Append(_characters[id - SpecialCount]);
        return sb.ToString();
    }

    /// <summary>The printable name of a token, special tokens included.</summary>
    public string TokenName(int id) => id < SpecialCount ? SpecialNames[id] : _characters[id - SpecialCount].ToString();
}
