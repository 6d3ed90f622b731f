#!/usr/bin/perl
# Validates every response the integration, end-to-end and fault tests received from keyflow
# (the JSON lines tests/support/exchange_log.cpp writes) against schemas/openapi.yaml, with
# JSON::Validator's OpenAPI 3 validator (Debian's libjson-validator-perl), and first the
# document itself against the OpenAPI 3.0 schema.
#
#   check_openapi_responses.pl <openapi.yaml> <exchanges directory>
#
# A response fails when its route and method are not in the document (then it must be keyflow's
# 404 or 405 error), when its status is not documented for the operation (`default` covers 5xx
# only), when its headers or
# its body do not match what the document says for that status, or when the document promises
# a body and there is none. Exits 1 on any failure, listing each distinct one once with the
# test and request that met it first.
use strict;
use warnings;

use JSON::PP ();
use JSON::Validator::Schema::OpenAPIv3;

@ARGV == 2 or die "usage: $0 <openapi.yaml> <exchanges directory>\n";
my ($document, $directory) = @ARGV;

my $schema = JSON::Validator::Schema::OpenAPIv3->new($document);
if (my @errors = @{$schema->errors}) {
  print "$document is not a valid OpenAPI 3.0 document:\n";
  print "  $_\n" for @errors;
  exit 1;
}

# This JSON::Validator reads `responses: {404: {$ref: ...}}` without following the reference
# (its get() does follow them); put the referenced response objects in place, once.
my $components = $schema->data->{components}{responses} || {};
for my $item (values %{$schema->data->{paths}}) {
  for my $operation (values %$item) {
    next unless ref $operation eq 'HASH' and $operation->{responses};
    for my $response (values %{$operation->{responses}}) {
      next unless ($response->{'$ref'} // '') =~ m{^#/components/responses/(.+)$};
      $response = $components->{$1} // die "$document: no components/responses/$1\n";
    }
  }
}

# The document's routes, the most literal first: (method, template, regex).
my @routes;
for my $route (@{$schema->routes}) {
  my $pattern = join '/', map { /^\{.+\}$/ ? '[^/]+' : quotemeta } split m{/}, $route->{path}, -1;
  push @routes, [$route->{method}, $route->{path}, qr{^$pattern$}];
}

my $error_schema = $schema->get('/components/schemas/Error') // die "$document: no Error schema\n";
my $json = JSON::PP->new->allow_nonref;

my (%failures, %covered, $count);
sub fail {
  my ($exchange, $what) = @_;
  $what =~ s{/\d+/}{/N/}g;    # one line for every element of a list that fails the same way
  my $key = "$exchange->{method} $exchange->{route} $exchange->{status}: $what";
  $failures{$key} //= "$exchange->{test}: $exchange->{method} $exchange->{target}";
}

opendir(my $dir, $directory) or die "no exchanges in $directory: run the integration and "
  . "end-to-end tests with this check (ctest does, through the openapi_exchanges fixture)\n";
for my $file (sort grep { /\.jsonl$/ } readdir $dir) {
  open(my $in, '<', "$directory/$file") or die "$directory/$file: $!\n";
  while (my $line = <$in>) {
    my $exchange = $json->decode($line);
    ++$count;
    check($exchange);
  }
}
die "no exchanges in $directory: nothing was checked\n" unless $count;

sub check {
  my ($exchange) = @_;
  my ($path) = split /\?/, $exchange->{target}, 2;
  my $method = lc $exchange->{method};
  my $status = $exchange->{status};
  my %headers = %{$exchange->{headers}};
  my $content_type = $headers{'content-type'} // '';
  $content_type =~ s/;.*//;
  my $body = $exchange->{body};

  my @at_path = grep { $path =~ $_->[2] } @routes;
  my ($route) = grep { $_->[0] eq $method } @at_path;
  unless ($route) {
    # Not an operation of the document: keyflow's own error, 404 for a path it does not
    # have, 405 for a method the path does not take.
    $exchange->{route} = @at_path ? "$at_path[0][1] (no $method)" : "$path (not in the document)";
    my $expected = @at_path ? 405 : 404;
    return fail($exchange, "answered $status, not $expected") unless $status == $expected;
    my $parsed = eval { $json->decode($body) };
    return fail($exchange, 'body is not JSON') unless defined $parsed;
    fail($exchange, "$_") for $schema->validate($parsed, $error_schema);
    return;
  }
  $exchange->{route} = $route->[1];
  $covered{"$method $route->[1]"}{$status} = 1;

  my $responses = $schema->get([paths => $route->[1], $method, 'responses']);
  # `default` stands for the server's own failures only: a 4xx must be listed.
  my $documented = $responses->{$status} // $responses->{substr($status, 0, 1) . 'XX'}
    // ($status >= 500 ? $responses->{default} : undef);
  return fail($exchange, 'status not documented') unless $documented;
  my $content = $documented->{content};
  if ($content and $method ne 'head' and !length $body) {
    return fail($exchange, 'no body, where the document gives one');
  }
  if (!$content and length $body) {
    return fail($exchange, 'a body, where the document gives none');
  }

  my $value = $body;
  if ($content_type =~ m{^application/(.+\+)?json$}) {
    $value = eval { $json->decode($body) };
    return fail($exchange, 'body is not JSON') if !defined $value and $body ne 'null';
  }
  my @errors = $schema->validate_response(
    [$method, $route->[1], $status],
    {
      body => sub { {exists => length $body ? 1 : 0, value => $value, content_type => $content_type} },
      header => sub {
        my ($name) = @_;
        my $header = $headers{lc $name};
        return {exists => defined $header ? 1 : 0, value => $header};
      },
    }
  );
  fail($exchange, "$_") for @errors;
}

my $operations = @routes;
printf "%d responses checked against %s: %d of %d operations met, %d distinct failures\n",
  $count, $document, scalar(keys %covered), $operations, scalar(keys %failures);
for my $failure (sort keys %failures) {
  print "  $failure\n      first: $failures{$failure}\n";
}
exit(%failures ? 1 : 0);
