using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Vireo.Deploy.Tests;

/// <summary>The objects one `helm template` renders, as JSON, in the order helm printed them.</summary>
public sealed class Manifests(IReadOnlyList<JsonObject> objects)
{
    private static readonly ConcurrentDictionary<string, Lazy<Manifests>> Cache = new();

    public IReadOnlyList<JsonObject> Objects { get; } = objects;

    public IEnumerable<JsonObject> OfKind(string kind) => Objects.Where(o => (string?)o["kind"] == kind);

    public JsonObject Named(string kind, string name) =>
        OfKind(kind).SingleOrDefault(o => Name(o) == name) ?? throw new InvalidOperationException($"no {kind} named {name}");

    public static string Name(JsonNode o) => (string)o["metadata"]!["name"]!;

    /// <summary>Pod templates of Deployments and Jobs, and bare Pods (the helm test), each with its owner's name.</summary>
    public IEnumerable<(string Owner, JsonObject Spec)> PodSpecs()
    {
        foreach (var o in Objects)
        {
            var kind = (string?)o["kind"];
            if (kind is "Deployment" or "Job")
                yield return ($"{kind}/{Name(o)}", o["spec"]!["template"]!["spec"]!.AsObject());
            else if (kind == "Pod")
                yield return ($"Pod/{Name(o)}", o["spec"]!.AsObject());
        }
    }

    /// <summary>Renders the chart as release "vireo" in namespace "vireo" with the given helm arguments (cached).</summary>
    public static Manifests Render(params string[] arguments) =>
        Cache.GetOrAdd(string.Join('\u0001', arguments), _ => new Lazy<Manifests>(() =>
        {
            var result = Helm.Template(arguments);
            Assert.True(result.ExitCode == 0, $"helm template {string.Join(' ', arguments)} failed:\n{result.All}");
            return Parse(result.Output);
        })).Value;

    public static Manifests Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var objects = stream.Documents
            .Where(d => d.RootNode is YamlMappingNode)
            .Select(d => ToJson(d.RootNode)!.AsObject())
            .ToList();
        return new Manifests(objects);
    }

    /// <summary>YAML to JSON with the YAML 1.2 core schema: plain scalars may be null, booleans or numbers; quoted ones are strings.</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain)
            return JsonValue.Create(text);
        if (text is "" or "~" or "null" or "Null" or "NULL")
            return null;
        if (text is "true" or "True" or "TRUE")
            return JsonValue.Create(true);
        if (text is "false" or "False" or "FALSE")
            return JsonValue.Create(false);
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            return JsonValue.Create(integer);
        if (System.Text.RegularExpressions.Regex.IsMatch(text, @"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"))
            return JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture));
        return JsonValue.Create(text);
    }
}

/// <summary>helm against the chart in helm/vireo.</summary>
public static class Helm
{
    public static CommandResult Template(params string[] arguments) =>
        Tools.Run(Tools.Helm!, ["template", "vireo", Tools.ChartFolder, "--namespace", "vireo", .. arguments]);

    public static CommandResult Lint(params string[] arguments) =>
        Tools.Run(Tools.Helm!, ["lint", "--strict", Tools.ChartFolder, .. arguments]);

    public static string ProductionValues => Path.Combine(Tools.ChartFolder, "examples", "production.yaml");
}
