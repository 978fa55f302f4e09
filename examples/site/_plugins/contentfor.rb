# frozen_string_literal: true

# {% contentfor NAME %} ... {% endcontentfor %}
#
# Captures the rendered block into the page's data under NAME instead of printing it where it
# stands, so that a layout can place it elsewhere: the review layout prints `page.signature`
# (through `markdownify`) after the letter's body.
#
# The page drop Jekyll hands to Liquid is the same object while the page and then its layouts
# are rendered, so a value stored here during the body is visible to the layout.
module Jekyll
  class ContentForBlock < Liquid::Block
    NAME = /\A\s*([\w-]+)\s*\z/.freeze

    def initialize(tag_name, markup, tokens)
      super
      match = NAME.match(markup)
      raise SyntaxError, "contentfor needs one name, e.g. {% contentfor signature %}" unless match

      @name = match[1]
    end

    def render(context)
      captured = super.to_s.strip
      page = context.registers[:page]
      if page.respond_to?(:[]=)
        previous = page[@name]
        page[@name] = previous.to_s.empty? ? captured : "#{previous}\n\n#{captured}"
      end
      ""
    end
  end
end

Liquid::Template.register_tag("contentfor", Jekyll::ContentForBlock)
