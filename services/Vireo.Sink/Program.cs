using Microsoft.Extensions.Hosting;
using Vireo.Sink;

var builder = Host.CreateApplicationBuilder(args);
builder.AddVireoSink();
await builder.Build().RunAsync();
