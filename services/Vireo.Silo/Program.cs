using Microsoft.Extensions.Hosting;
using Vireo.Silo;

var builder = Host.CreateApplicationBuilder(args);
builder.AddVireoSilo();
await builder.Build().RunAsync();
