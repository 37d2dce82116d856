namespace Vireo.Model.Text;

/// <summary>What the language side needs of a tokenizer: text to ids and back, and the ids of the image and turn tokens.</summary>
public interface ITextTokenizer
{
    /// <summary>Ids of a text; special tokens written in it are recognised.</summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>The text of ids, special tokens left out.</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>The token that ends the assistant's turn (generation stops there).</summary>
    int EndOfTurn { get; }

    /// <summary>&lt;img&gt;.</summary>
    int ImageStart { get; }

    /// <summary>&lt;/img&gt;.</summary>
    int ImageEnd { get; }

    /// <summary>&lt;IMG_CONTEXT&gt;: the positions the visual tokens replace.</summary>
    int ImageContext { get; }
}
